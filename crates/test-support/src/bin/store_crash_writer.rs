//! `store-crash-writer DIR`: the writer gantry-storage's `store_crash` test kills mid-write
//! (see `gantry_test_support::store::crash`). It never returns on its own before a minute.

fn main() {
    let Some(dir) = std::env::args_os().nth(1) else {
        eprintln!("usage: store-crash-writer DIR");
        std::process::exit(2);
    };
    gantry_test_support::store::crash::write_until_killed(std::path::Path::new(&dir));
}
