//! Console output with log levels. `kprintln!` always prints (banner, test results);
//! `error!`..`trace!` print when the boot setting `log` allows. All of them go through the
//! interrupt-safe console lock (`arch::x86_64::serial`).

use crate::bootcfg::LogLevel;
use core::sync::atomic::{AtomicU8, Ordering};

static LEVEL: AtomicU8 = AtomicU8::new(LogLevel::Info as u8);

/// Sets the most verbose level printed.
pub fn set_level(level: LogLevel) {
    LEVEL.store(level as u8, Ordering::Relaxed);
}

/// Whether messages at `level` are printed.
pub fn enabled(level: LogLevel) -> bool {
    level as u8 <= LEVEL.load(Ordering::Relaxed)
}

/// Prints unconditionally to the console.
#[macro_export]
macro_rules! kprint {
    ($($arg:tt)*) => { $crate::arch::x86_64::serial::console_write(format_args!($($arg)*)) };
}

/// Prints a line unconditionally to the console.
#[macro_export]
macro_rules! kprintln {
    () => { $crate::kprint!("\n") };
    ($($arg:tt)*) => { $crate::kprint!("{}\n", format_args!($($arg)*)) };
}

/// Prints a line at a log level, as `[level] message`.
#[macro_export]
macro_rules! klog {
    ($level:expr, $($arg:tt)*) => {
        if $crate::log::enabled($level) {
            $crate::kprintln!("[{}] {}", $level.name(), format_args!($($arg)*));
        }
    };
}

#[macro_export]
macro_rules! error { ($($arg:tt)*) => { $crate::klog!($crate::bootcfg::LogLevel::Error, $($arg)*) }; }
#[macro_export]
macro_rules! warn { ($($arg:tt)*) => { $crate::klog!($crate::bootcfg::LogLevel::Warn, $($arg)*) }; }
#[macro_export]
macro_rules! info { ($($arg:tt)*) => { $crate::klog!($crate::bootcfg::LogLevel::Info, $($arg)*) }; }
#[macro_export]
macro_rules! debug { ($($arg:tt)*) => { $crate::klog!($crate::bootcfg::LogLevel::Debug, $($arg)*) }; }
