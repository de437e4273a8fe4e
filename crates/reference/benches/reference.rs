//! Reference parsing over a realistic mix of what users and registries write.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use gantry_reference::Reference;

const DIGEST: &str = "sha256:6c3c624b58dbbcd3c0dd82b4c53f04194d1247c6eebdaab7c610cf7d66709b3b";

fn mix() -> Vec<String> {
    vec![
        "ubuntu".to_owned(),
        "ubuntu:24.04".to_owned(),
        "nginx:1.27-alpine".to_owned(),
        "library/postgres:16".to_owned(),
        "docker.io/library/redis:7.2.4".to_owned(),
        "ghcr.io/acme/platform/api-server:v2.31.0".to_owned(),
        "quay.io/prometheus/node-exporter:v1.8.1".to_owned(),
        "123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/service:build-4821".to_owned(),
        "europe-docker.pkg.dev/project-x/images/worker".to_owned(),
        "localhost:5000/scratch/test:latest".to_owned(),
        format!("registry.k8s.io/pause@{DIGEST}"),
        format!("gcr.io/distroless/static:nonroot@{DIGEST}"),
    ]
}

fn parse(c: &mut Criterion) {
    let inputs = mix();
    let mut group = c.benchmark_group("reference");
    group.throughput(Throughput::Elements(inputs.len() as u64));
    group.bench_function("parse", |b| {
        b.iter(|| {
            for input in &inputs {
                std::hint::black_box(Reference::parse(std::hint::black_box(input)).ok());
            }
        })
    });
    group.bench_function("parse_normalized", |b| {
        b.iter(|| {
            for input in &inputs {
                std::hint::black_box(Reference::parse_normalized(std::hint::black_box(input)).ok());
            }
        })
    });
    group.finish();
}

criterion_group!(benches, parse);
criterion_main!(benches);
