//! Boot: bring the machine up in dependency order, print the banner, run the configured job.
//!
//! Order matters: the console first (so everything after can report), then the GDT/IDT (so a
//! fault during the rest is reported, not a triple fault), the boot settings, the CPU's SIMD
//! state, physical memory, paging, the heap, and finally the timer and interrupts.

use crate::arch::x86_64::{apic, cpu, gdt, idt, power, serial};
use crate::bootcfg::{BootArchive, BootConfig, Job, SchedPolicy};
use crate::exit::ExitCode;
use crate::health::HealthSummary;
use crate::learn::schema::HeadStatus;
use crate::learn::{FallbackReason, GuardConfig, Pipeline};
use crate::mm::{frames, heap, paging};
use crate::sched::core::Setup;
use crate::task::SchedulerSetup;
use crate::{KERNEL_BASE, kprintln, log, model, time};
use bootloader_api::BootInfo;
use bootloader_api::config::{BootloaderConfig, Mapping};
use bootloader_api::info::{MemoryRegionKind, MemoryRegions};
use core::fmt::{self, Write};
use core::panic::PanicInfo;

/// Builds the scheduler the settings ask for. Only a learned policy loads the model (the boot
/// file if given, else the embedded default) and prints what it got.
fn scheduler_setup(config: &BootConfig, weights: Option<&'static [u8]>) -> SchedulerSetup {
    if config.policy != SchedPolicy::Learned {
        kprintln!(
            "model: not loaded (the {} scheduler needs none)",
            config.policy.name()
        );
        return SchedulerSetup {
            sched: Setup::classical(config.policy, config.explore, config.seed),
            pipeline: Pipeline::without_model(FallbackReason::NoWeights),
        };
    }
    let (bytes, source) = match weights {
        Some(b) => (b, model::Source::BootFile),
        None => (model::DEFAULT_WEIGHTS, model::Source::Embedded),
    };
    let (slot, pipeline) = match model::load(bytes, source, model_runtime::Backend::detect()) {
        Ok(m) => {
            kprintln!(
                "model: {} ({}, {} bytes), heads: sched {}",
                m.name,
                m.source.name(),
                m.bytes,
                m.sched.word()
            );
            if let HeadStatus::Mismatch(why) = m.sched {
                kprintln!(
                    "model: head sched disabled: {why}; the learned policy falls back to {}",
                    config.shadow.name()
                );
            }
            (m.sched_slot(), m.pipeline)
        }
        Err(r) => {
            kprintln!(
                "model: weights {} refused ({}): {}; the learned policy falls back to {}",
                r.source.name(),
                r.reason.name(),
                r.message,
                config.shadow.name()
            );
            (Err(r.reason), Pipeline::without_model(r.reason))
        }
    };
    let guard = GuardConfig {
        budget_cycles: time::tick_cycles() / 10,
        ..GuardConfig::default()
    };
    SchedulerSetup {
        sched: Setup::learned(config.shadow, slot, guard, config.seed),
        pipeline,
    }
}

/// Bytes of the boot stack the bootloader gives the kernel (a guard page sits below it).
pub const KERNEL_STACK_BYTES: u64 = 256 * 1024;

/// Asks the bootloader to map all physical memory (at an address of its choosing) and to
/// load the kernel at [`KERNEL_BASE`].
pub static BOOTLOADER_CONFIG: BootloaderConfig = {
    let mut config = BootloaderConfig::new_default();
    config.mappings.physical_memory = Some(Mapping::Dynamic);
    config.mappings.kernel_base = Mapping::FixedAddress(KERNEL_BASE);
    config.kernel_stack_size = KERNEL_STACK_BYTES;
    config
};

/// How the machine booted, read off the memory map: UEFI firmware reports its own region
/// types, BIOS E820 reports its own.
fn boot_mode(regions: &MemoryRegions) -> &'static str {
    let uefi = regions
        .iter()
        .any(|r| matches!(r.kind, MemoryRegionKind::UnknownUefi(_)));
    let bios = regions
        .iter()
        .any(|r| matches!(r.kind, MemoryRegionKind::UnknownBios(_)));
    match (uefi, bios) {
        (true, false) => "UEFI",
        (false, true) => "BIOS",
        _ => "unknown",
    }
}

/// Stops the boot with a one-line reason.
fn boot_failed(what: &str, why: impl fmt::Display) -> ! {
    kprintln!("boot failed: {what}: {why}");
    power::exit(ExitCode::Failure)
}

/// The boot settings and, if the archive has one, the weights file.
fn read_config(boot_info: &BootInfo) -> (BootConfig, Option<&'static [u8]>) {
    let Some(addr) = boot_info.ramdisk_addr.into_option() else {
        return (BootConfig::default(), None);
    };
    // SAFETY: the bootloader mapped the ramdisk at `ramdisk_addr` for `ramdisk_len` bytes,
    // read-only data that lives for the whole run and that nothing writes.
    let bytes: &'static [u8] =
        unsafe { core::slice::from_raw_parts(addr as *const u8, boot_info.ramdisk_len as usize) };
    let archive = BootArchive::parse(bytes).unwrap_or_else(|e| boot_failed("boot archive", e));
    match archive.config() {
        Ok(config) => (config, archive.entry(crate::bootcfg::WEIGHTS_ENTRY)),
        Err(e) => boot_failed("boot settings refused", e),
    }
}

/// The bootloader's entry point.
pub fn kernel_main(boot_info: &'static mut BootInfo) -> ! {
    serial::init();
    gdt::init();
    idt::init();
    let (config, weights) = read_config(boot_info);
    log::set_level(config.log_level);
    let cpu = cpu::init();

    let Some(phys_offset) = boot_info.physical_memory_offset.into_option() else {
        boot_failed("memory", "the bootloader did not map physical memory")
    };
    let mode = boot_mode(&boot_info.memory_regions);
    let regions: &'static _ = &*boot_info.memory_regions;
    let memory =
        frames::init(regions, phys_offset).unwrap_or_else(|e| boot_failed("frame allocator", e));
    paging::init(phys_offset).unwrap_or_else(|e| boot_failed("paging", e));
    for guard in gdt::ist_guard_pages() {
        if let Err(e) = paging::unmap(guard.as_u64()) {
            crate::warn!("IST stack at {:#x} has no guard page: {e}", guard.as_u64());
        }
    }
    let heap_bytes = heap::init(frames::stats().free_frames * crate::mm::PAGE_BYTES)
        .unwrap_or_else(|e| boot_failed("kernel heap", e));
    let lapic = paging::map_mmio(apic::physical_base(), crate::mm::PAGE_BYTES)
        .unwrap_or_else(|e| boot_failed("LAPIC registers", e));
    let clocks = apic::init(lapic, config.tick_hz);
    time::init(config.tick_hz, clocks.tsc_hz);
    x86_64::instructions::interrupts::enable();

    const MIB: u64 = 1 << 20;
    kprintln!("Augur {} ({mode} boot)", crate::VERSION);
    kprintln!("CPU: {}", cpu.brand());
    kprintln!("AVX2: {}", if cpu.avx2_usable() { "yes" } else { "no" });
    kprintln!(
        "memory: {} MiB usable, {} MiB free, heap {} MiB",
        memory.usable_bytes / MIB,
        frames::stats().free_frames * crate::mm::PAGE_BYTES / MIB,
        heap_bytes / MIB
    );
    kprintln!(
        "timer: {} Hz (LAPIC {} kHz, TSC {} MHz, calibrated against the PIT)",
        config.tick_hz,
        clocks.lapic_hz / 1000,
        clocks.tsc_hz / 1_000_000
    );
    kprintln!(
        "inference: {} kernels",
        model_runtime::Backend::detect().name()
    );
    let setup = scheduler_setup(&config, weights);
    crate::task::init(setup).unwrap_or_else(|e| boot_failed("threads", e));
    match config.policy {
        SchedPolicy::Learned => kprintln!("scheduler: learned (shadow {})", config.shadow.name()),
        p => kprintln!("scheduler: {}", p.name()),
    }
    kprintln!("job: {}", config.job.name());

    let ok = match config.job {
        Job::Run => run_default_job(&config),
        Job::Workload => crate::workload::runner::run(&config),
        Job::KTest => crate::ktest::run(config.ktest_filter()),
        Job::CrashPageFault => {
            // SAFETY: deliberately not safe: this address is unmapped, and the resulting page
            // fault report is what the test hook exists to check.
            let v = unsafe { core::ptr::read_volatile(0x0000_5ead_beef_f000 as *const u64) };
            kprintln!("read {v:#x} from an unmapped address?!");
            false
        }
        Job::CrashPanic => {
            panic!("deliberate panic requested by the boot settings (job=crash-panic)")
        }
        Job::CrashStackOverflow => {
            let depth = recurse_forever(0);
            kprintln!("recursion returned at depth {depth}?!");
            false
        }
        Job::Hang => loop {
            x86_64::instructions::hlt();
        },
    };
    crate::task::trace_channel::finish();
    power::exit(if ok {
        ExitCode::Success
    } else {
        ExitCode::Failure
    })
}

/// Recurses until the boot stack runs into its guard page. Each frame keeps a buffer alive
/// across the call, so the compiler can neither inline the recursion away nor turn it into a loop.
#[inline(never)]
#[allow(unconditional_recursion)] // The point: it ends only in the guard page.
fn recurse_forever(depth: u64) -> u64 {
    let frame = core::hint::black_box([depth; 64]);
    let deeper = recurse_forever(core::hint::black_box(depth + 1));
    deeper + core::hint::black_box(frame)[0]
}

/// Runs the timer for the configured ticks, then prints the health summary.
fn run_default_job(config: &BootConfig) -> bool {
    let start_ticks = time::ticks();
    let start_ns = time::now_ns();
    time::wait_ticks(u64::from(config.run_ticks));
    let summary = HealthSummary {
        ticks: time::ticks() - start_ticks,
        tick_hz: config.tick_hz,
        elapsed_us: (time::now_ns() - start_ns) / 1000,
        free_kib: frames::stats().free_frames * crate::mm::PAGE_BYTES / 1024,
        heap_used: heap::used(),
    };
    kprintln!("{summary}");
    true
}

#[panic_handler]
fn panic(info: &PanicInfo<'_>) -> ! {
    let mut out = serial::emergency_console();
    let _ = write!(out, "\nKERNEL PANIC: {}", info.message());
    if let Some(at) = info.location() {
        let _ = write!(out, "\n  at {}:{}:{}", at.file(), at.line(), at.column());
    }
    let _ = writeln!(out, "\nkernel stopped");
    power::exit(ExitCode::Failure)
}
