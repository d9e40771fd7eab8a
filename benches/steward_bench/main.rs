//! Steward's benchmark suite: every figure beside its baseline, measured in the same run.
//!
//! `cargo bench --bench steward_bench` runs the full suite; `-- --quick` a short one (CI runs it
//! so the suite cannot rot). Absolute numbers depend on the machine; the ratios are the point.
//! See BENCHMARKS.md for the latest figures and how to read them.
//!
//! One module per section: `appends`, `keys`, `memory`, `rebuild`, `http`, `contention`,
//! `scale_out`; `fixtures` holds the events they share.

mod appends;
mod contention;
mod fixtures;
mod http;
mod keys;
mod memory;
mod rebuild;
mod scale_out;

use appends::appends;
use axum::{routing::get, routing::post, Json, Router};
use contention::contention;
use fixtures::*;
use http::http;
use keys::key_check;
use memory::memory_growth;
use rebuild::rebuild;
use scale_out::scale_out;
use serde_json::{json, Value};
use std::{
    path::Path,
    process::Command,
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};
use steward::{clock::SystemClock, config::ServeSettings, startup::Application};
use steward_events::*;
use steward_projections::{keys::Keys, usage::Day, Projection, Projections};
use uuid::Uuid;

/// The allocator the `steward` binary ships with (mimalloc), so the figures are the binary's
/// and the baselines in this process share it; it also counts, per thread, the bytes allocated
/// and not freed, so that memory per entry is measured exactly rather than from the resident
/// set, which the allocator's reservations and reuse make noisy.
struct CountingMimalloc;

thread_local! {
    static NET_ALLOCATED: std::cell::Cell<isize> = const { std::cell::Cell::new(0) };
}

fn count(delta: isize) {
    // `try_with`: the thread's counter may be gone while the thread is being torn down.
    let _ = NET_ALLOCATED.try_with(|net| net.set(net.get() + delta));
}

// SAFETY: every call is forwarded unchanged to mimalloc; counting allocates nothing.
unsafe impl std::alloc::GlobalAlloc for CountingMimalloc {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        count(layout.size() as isize);
        unsafe { mimalloc::MiMalloc.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: std::alloc::Layout) -> *mut u8 {
        count(layout.size() as isize);
        unsafe { mimalloc::MiMalloc.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, pointer: *mut u8, layout: std::alloc::Layout) {
        count(-(layout.size() as isize));
        unsafe { mimalloc::MiMalloc.dealloc(pointer, layout) }
    }

    unsafe fn realloc(
        &self,
        pointer: *mut u8,
        layout: std::alloc::Layout,
        new_size: usize,
    ) -> *mut u8 {
        count(new_size as isize - layout.size() as isize);
        unsafe { mimalloc::MiMalloc.realloc(pointer, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: CountingMimalloc = CountingMimalloc;

/// Bytes this thread has allocated and not freed.
fn allocated_bytes() -> isize {
    NET_ALLOCATED.with(|net| net.get())
}

struct Mode {
    quick: bool,
    repetitions: usize,
}

/// min / median / max of some measurements.
fn spread(mut values: Vec<f64>) -> (f64, f64, f64) {
    values.sort_by(|a, b| a.partial_cmp(b).unwrap());
    (
        values[0],
        values[values.len() / 2],
        values[values.len() - 1],
    )
}

fn show((min, median, max): (f64, f64, f64)) -> String {
    format!("{median:.0} ({min:.0}–{max:.0})")
}

fn percentile(sorted: &[Duration], fraction: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * fraction).round() as usize]
}

fn main() {
    let quick = std::env::args().any(|argument| argument == "--quick")
        || std::env::var_os("STEWARD_BENCH_QUICK").is_some();
    let mode = Mode {
        quick,
        repetitions: 3,
    };
    println!(
        "# Steward benchmarks ({} mode)",
        if quick { "quick" } else { "full" }
    );
    println!(
        "\nmachine: {} cores; {}",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(
                |text| text.lines().find(|l| l.starts_with("model name")).map(|l| l
                    .split(':')
                    .nth(1)
                    .unwrap_or("")
                    .trim()
                    .to_owned())
            )
            .unwrap_or_default()
    );
    // `STEWARD_BENCH_ONLY=appends,keys,memory,rebuild,http,contention,scale_out` runs some sections only;
    // `STEWARD_BENCH_HTTP=requests,keys,get,verify` some rows of the HTTP section.
    let only = std::env::var("STEWARD_BENCH_ONLY").unwrap_or_default();
    let wanted = |section: &str| only.is_empty() || only.split(',').any(|s| s == section);
    if wanted("appends") {
        appends(&mode);
    }
    if wanted("keys") {
        key_check(&mode);
    }
    if wanted("memory") {
        memory_growth(&mode);
    }
    if wanted("rebuild") {
        rebuild(&mode);
    }
    if wanted("http") {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(http(&mode));
    }
    if wanted("contention") {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(contention(&mode));
    }
    if wanted("scale_out") {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(scale_out(&mode));
    }
}
