//! x86_64 glue: everything that touches a port, a control register, a descriptor table or a
//! device register. Each file is named after the hardware it drives (hermit/blog_os style).

pub mod apic;
pub mod cpu;
pub mod gdt;
pub mod idt;
pub mod pit;
pub mod power;
pub mod serial;
pub mod switch;
