//! The sections of the backbone's per-tick input: one per kernel subsystem (`sched` now, `mm`
//! and `blk` next), each with its own version and field count.
//!
//! The kernel's telemetry is a concatenation of sections, and so is each tick's row of the model
//! input, in the order `augur.input.sections` lists them. A section's version changes when the
//! meaning or order of its fields does; the kernel compares each section it feeds with the
//! file's, so a change to the `mm` counters does not retire a scheduler head by accident (the
//! backbone, which reads every section, still needs retraining when any of them changes: its
//! input layer has columns per field). The sum of the sections' fields must be
//! `augur.input.features`, or the backbone would read misaligned columns.
//!
//! | key | type | meaning |
//! | --- | --- | --- |
//! | `augur.input.sections` | [string] | section names, in input order |
//! | `augur.input.section.<s>.version` | u32 | the section's field-schema version |
//! | `augur.input.section.<s>.fields` | u32 | fields the section contributes to each tick |

use crate::error::{LoadError, Name};
use crate::gguf::Gguf;
use crate::graph::Meta;
use crate::quant::MAX_WIDTH;

/// Most input sections a model may declare.
pub const MAX_SECTIONS: usize = 8;

/// One input section, validated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Section<'a> {
    /// The subsystem's name (`sched`, `mm`, `blk`).
    pub name: &'a str,
    /// Its field-schema version.
    pub version: u32,
    /// Fields it contributes to each tick's row.
    pub fields: usize,
    /// Index of its first field within a tick's row (the sum of the fields before it).
    pub first_field: usize,
}

/// A model's input sections, in input order.
#[derive(Clone, Copy, Debug)]
pub struct Sections<'a> {
    items: [Option<Section<'a>>; MAX_SECTIONS],
    len: usize,
}

impl<'a> Sections<'a> {
    /// Reads and checks the sections against `features`, the fields per tick.
    pub(crate) fn read(gguf: &Gguf<'a>, features: usize) -> Result<Self, LoadError> {
        const LIST: &str = "augur.input.sections";
        let meta = Meta(gguf);
        let names = meta.strings(&[LIST])?;
        if names.is_empty() {
            return Err(LoadError::BadGraph {
                what: Name::new(LIST),
                why: "is empty: every model reads at least one telemetry section",
            });
        }
        if names.len() > MAX_SECTIONS as u64 {
            return Err(LoadError::TooMany {
                what: "input sections",
                count: names.len(),
                max: MAX_SECTIONS as u64,
            });
        }
        let mut out = Sections {
            items: [None; MAX_SECTIONS],
            len: 0,
        };
        let mut sum: u64 = 0;
        for name in names.strings() {
            if name.is_empty() || out.get(name).is_some() {
                return Err(LoadError::BadGraph {
                    what: Name::new(name),
                    why: "is empty or listed twice in augur.input.sections",
                });
            }
            let key = |suffix| ["augur.input.section.", name, suffix];
            let version = meta.u32(&key(".version"))?;
            let fields = meta.u32(&key(".fields"))? as usize;
            if fields == 0 || fields > MAX_WIDTH {
                return Err(LoadError::OutOfRange {
                    what: Name::from_parts(&key(".fields")),
                    index: 0,
                    value: fields as i64,
                    min: 1,
                    max: MAX_WIDTH as i64,
                });
            }
            let section = Section {
                name,
                version,
                fields,
                first_field: sum as usize,
            };
            sum += fields as u64;
            if let Some(slot) = out.items.get_mut(out.len) {
                *slot = Some(section);
                out.len += 1;
            }
        }
        if sum != features as u64 {
            return Err(LoadError::SectionFields {
                sum,
                features: features as u64,
            });
        }
        Ok(out)
    }

    /// All sections in input order.
    pub fn iter(&self) -> impl Iterator<Item = &Section<'a>> {
        self.items.iter().take(self.len).flatten()
    }

    /// The section called `name`.
    pub fn get(&self, name: &str) -> Option<&Section<'a>> {
        self.iter().find(|s| s.name == name)
    }

    /// Number of sections.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are none (never, for a loaded model).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}
