//! Hardware glue. Only x86_64 exists; the module boundary is where another architecture would go.

pub mod x86_64;
