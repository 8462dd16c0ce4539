//! (module under construction)
pub mod buf;
pub use buf::{HeadroomBuf, PacketBuf};
