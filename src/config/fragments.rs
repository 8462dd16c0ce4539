//! `[fragments]`: the IPv4 reassembly bounds (Linux's `ipfrag_*` names and units).

use super::locate::KeyPath;
use super::raw::RawFragments;
use super::validate::{Checker, Res};
use super::{ErrorKind, Fragments};

/// Largest threshold accepted (1 GiB: far above what a worker's pool can hold).
const MAX_THRESH: i64 = 1 << 30;

impl Checker<'_> {
    pub(super) fn fragments(&self, raw: RawFragments) -> Res<Fragments> {
        let fp = KeyPath::root().key("fragments");
        let d = Fragments::default();
        let high: u64 = self.num(
            &fp.key("ipfrag_high_thresh"),
            raw.ipfrag_high_thresh,
            d.ipfrag_high_thresh,
            (0, MAX_THRESH),
            "ipfrag_high_thresh",
        )?;
        // Linux's defaults keep low < high; a configured high below the default low
        // takes 3/4 of itself as low unless low is given too.
        let low_default = d.ipfrag_low_thresh.min(high / 4 * 3);
        let low: u64 = self.num(
            &fp.key("ipfrag_low_thresh"),
            raw.ipfrag_low_thresh,
            low_default,
            (0, MAX_THRESH),
            "ipfrag_low_thresh",
        )?;
        if low > high {
            return Err(self.err(
                &fp.key("ipfrag_low_thresh"),
                ErrorKind::Conflict,
                format!("ipfrag_low_thresh {low} is above ipfrag_high_thresh {high}"),
            ));
        }
        let source: u64 = self.num(
            &fp.key("ipfrag_source_thresh"),
            raw.ipfrag_source_thresh,
            d.ipfrag_source_thresh.min(high),
            (0, MAX_THRESH),
            "ipfrag_source_thresh",
        )?;
        if source > high {
            return Err(self.err(
                &fp.key("ipfrag_source_thresh"),
                ErrorKind::Conflict,
                format!("ipfrag_source_thresh {source} is above ipfrag_high_thresh {high}"),
            ));
        }
        Ok(Fragments {
            ipfrag_high_thresh: high,
            ipfrag_low_thresh: low,
            ipfrag_source_thresh: source,
            ipfrag_time: self.num(
                &fp.key("ipfrag_time"),
                raw.ipfrag_time,
                d.ipfrag_time,
                (1, 3600),
                "ipfrag_time",
            )?,
        })
    }
}
