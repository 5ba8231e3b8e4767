//! Host side of Augur's model: the float model description, the quantizer that turns it into
//! an Augur GGUF file, and the tract-core f32 reference the runtime is checked against.
//!
//! The loop of DESIGN.md §1 ends here: a trainer (a later issue) produces a [`FloatModel`]
//! (layers with f32 weights `[out][in]` row-major, biases, activations; a backbone and named
//! heads), [`quantize()`] calibrates it on sample inputs and produces a
//! [`model_runtime::QuantizedModel`], whose `to_gguf` is the file the kernel boots with.
//! [`reference`](mod@reference) rebuilds any Augur file in f32 with tract-core from its
//! *dequantized* weights, and [`reference::error_bound`] says how far the int8 runtime may be
//! from it.
//! Until a model is trained, [`handset`] builds the one the kernel boots with: explicit
//! hand-set weights (a shortest-remaining-work heuristic), `weights/augur-handset-v1.gguf`.
//! [`reexport`](mod@reexport) rewrites a file of an older model format in the current one from
//! the same tensors (`cargo run -p augur-weights --example reexport -- OLD.gguf NEW.gguf`).
//!
//! # Notes
//! Quantization is symmetric (zero point 0): inputs, activations and per-channel weights use
//! `scale = max|x| / 127` from calibration, except the input and candidate scales a caller
//! fixes in [`Calibration`] (1.0 for models that read the kernel's int8 telemetry as the
//! numbers they are). A head's first layer sees the embedding and the candidate features at
//! two different scales; the quantizer folds the ratio into the weights of each column block
//! so one accumulator scale per output channel remains (the runtime's integer arithmetic never
//! sees scales at all).
//!
//! # Resources
//! - Jacob et al., CVPR 2018 (integer-only inference); TFLite's int8 quantization spec.
//! - tract: <https://github.com/sonos/tract> (tract-core only, no ONNX).

pub mod float;
pub mod handset;
pub mod quantize;
pub mod reexport;
pub mod reference;

pub use float::{Activation, FloatHead, FloatLayer, FloatModel, random_float_model};
pub use handset::{HANDSET_FILE, HANDSET_NAME, handset_gguf, handset_model};
pub use quantize::{Calibration, QuantizeError, dequantize, quantize, quantize_input};
