//! Digest throughput on 1 MiB blocks, the size `openssl speed -bytes 1048576` uses.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use gantry_reference::{Algorithm, Digester};

fn digest_throughput(c: &mut Criterion) {
    let block = vec![0x5a_u8; 1 << 20];
    let mut group = c.benchmark_group("digest");
    group.throughput(Throughput::Bytes(block.len() as u64));
    for algorithm in Algorithm::ALL {
        group.bench_function(algorithm.as_str(), |b| {
            b.iter(|| {
                let mut digester = Digester::new(algorithm);
                digester.update(std::hint::black_box(&block));
                digester.finish()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, digest_throughput);
criterion_main!(benches);
