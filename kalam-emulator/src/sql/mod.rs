//! SQL text handling before DataFusion: splitting, classification, parameters.

pub(crate) mod classify;
pub(crate) mod params;
pub(crate) mod split;
