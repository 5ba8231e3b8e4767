//! A loaded Augur model: a validated GGUF file plus its layer graph, borrowed zero-copy.
//!
//! [`Model::from_gguf`] is the one entry point that turns untrusted bytes into something the
//! kernels may run: GGUF structure first (`gguf.rs`), then the format version, the integrity
//! digest over the whole file (`integrity.rs`), the input sections (`sections.rs`), and the
//! `augur.*` graph with every tensor's type, shape and value range (`graph.rs`). It allocates
//! nothing and keeps only references into the caller's bytes, so the kernel can run straight
//! from a boot module.

use crate::error::{LoadError, Name};
use crate::gguf::Gguf;
use crate::graph::{FORMAT_VERSION, Graph, Head, Meta};
use crate::integrity::{self, Sha256Bytes};
use crate::plan::plan_for;
use crate::quant::MAX_WIDTH;
use crate::sections::{Section, Sections};

/// A validated Augur model borrowing its weight file.
#[derive(Clone, Copy, Debug)]
pub struct Model<'a> {
    gguf: Gguf<'a>,
    graph: Graph<'a>,
    name: &'a str,
    digest: Sha256Bytes,
    sections: Sections<'a>,
    input_window: usize,
    input_features: usize,
    input_scale: f32,
}

impl<'a> Model<'a> {
    /// Parses and validates an Augur GGUF file. Every failure is a [`LoadError`] saying what is
    /// wrong; no input panics.
    pub fn from_gguf(bytes: &'a [u8]) -> Result<Self, LoadError> {
        let gguf = Gguf::parse(bytes)?;
        let meta = Meta(&gguf);
        let format = meta.u32(&["augur.format_version"])?;
        if format != FORMAT_VERSION {
            return Err(LoadError::UnsupportedFormat {
                found: format,
                supported: FORMAT_VERSION,
            });
        }
        // Before anything reads the graph: a file that is not byte for byte what was written
        // is refused here, however plausible its values look.
        let digest = integrity::verify(&gguf)?;
        let name = meta.str(&["general.name"])?;
        let input_window = meta.u32(&["augur.input.window"])? as usize;
        let input_features = meta.u32(&["augur.input.features"])? as usize;
        let input_len = input_window.saturating_mul(input_features);
        if input_len == 0 || input_len > MAX_WIDTH {
            return Err(LoadError::OutOfRange {
                what: Name::new("augur.input.window * augur.input.features"),
                index: 0,
                value: input_len as i64,
                min: 1,
                max: MAX_WIDTH as i64,
            });
        }
        let sections = Sections::read(&gguf, input_features)?;
        let input_scale = meta.f32(&["augur.input.scale"])?;
        let graph = Graph::read(&gguf, input_len)?;
        Ok(Model {
            gguf,
            graph,
            name,
            digest,
            sections,
            input_window,
            input_features,
            input_scale,
        })
    }

    /// The model's name (`general.name`).
    pub fn name(&self) -> &'a str {
        self.name
    }

    /// The file's SHA-256 integrity digest (`augur.digest.sha256`), checked at load: the value
    /// a model card names.
    pub fn digest(&self) -> Sha256Bytes {
        self.digest
    }

    /// [`Model::digest`] as 64 lowercase hex digits.
    pub fn digest_hex(&self) -> [u8; integrity::DIGEST_HEX_LEN] {
        integrity::to_hex(&self.digest)
    }

    /// The telemetry sections each tick's input row concatenates, in order, with the version
    /// of each the weights were trained on. The kernel compares every section it feeds with
    /// its own version.
    pub fn sections(&self) -> impl Iterator<Item = &Section<'a>> {
        self.sections.iter()
    }

    /// The section called `name` (e.g. `"sched"`), if the model reads it.
    pub fn section(&self, name: &str) -> Option<&Section<'a>> {
        self.sections.get(name)
    }

    /// Ticks in the input window.
    pub fn input_window(&self) -> usize {
        self.input_window
    }

    /// Features per tick.
    pub fn input_features(&self) -> usize {
        self.input_features
    }

    /// Backbone input length (`window × features`).
    pub fn input_len(&self) -> usize {
        self.input_window * self.input_features
    }

    /// Real value of one input unit (host-side; the kernel feeds int8 directly).
    pub fn input_scale(&self) -> f32 {
        self.input_scale
    }

    /// Width of the embedding the backbone produces.
    pub fn embedding_len(&self) -> usize {
        self.graph.embedding_len()
    }

    /// The layer graph.
    pub fn graph(&self) -> &Graph<'a> {
        &self.graph
    }

    /// The underlying GGUF file (metadata and tensors).
    pub fn gguf(&self) -> &Gguf<'a> {
        &self.gguf
    }

    /// Index of the head called `name` (e.g. `"sched"`), for [`crate::Engine::run_head`].
    pub fn head_index(&self, name: &str) -> Option<usize> {
        self.graph.head_index(name)
    }

    /// Head `index`.
    pub fn head(&self, index: usize) -> Option<&Head<'a>> {
        self.graph.head(index)
    }

    /// Outputs per candidate of head `index` (the width of its last layer).
    pub fn head_outputs(&self, index: usize) -> Option<usize> {
        let head = self.graph.head(index)?;
        Some(
            self.graph
                .layer(head.first_layer + head.layer_count - 1)?
                .outputs,
        )
    }

    /// Bytes of scratch an [`crate::Engine`] needs for this model, on either backend, for any
    /// number of candidates (heads run in chunks of [`crate::HEAD_BATCH`]). Includes the
    /// prepared (packed) weights and alignment slack.
    pub fn scratch_len(&self) -> usize {
        plan_for(&self.graph).total_len()
    }
}
