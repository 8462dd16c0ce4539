//! ipvsadm's counter columns: `print_largenum` (IPVSADM.md §3.4). Without `--exact` a
//! counter takes 9 columns, scaled to K/M/G/T (integer division, truncating) once it no
//! longer fits comfortably; with `--exact` it is printed whole, still right-aligned in at
//! least 9 columns and always after at least one space.

/// One counter column as ipvsadm prints it (no separator before it: the leading spaces
/// of the 9-wide field are the separator).
pub fn largenum(v: u64, exact: bool) -> String {
    if exact {
        let digits = v.to_string();
        let width = if digits.len() <= 8 {
            9
        } else {
            digits.len() + 1
        };
        return format!("{digits:>width$}");
    }
    if v < 100_000_000 {
        format!("{v:>9}")
    } else if v < 1_000_000_000 {
        format!("{:>8}K", v / 1_000)
    } else if v < 100_000_000_000 {
        format!("{:>8}M", v / 1_000_000)
    } else if v < 100_000_000_000_000 {
        format!("{:>8}G", v / 1_000_000_000)
    } else {
        format!("{:>8}T", v / 1_000_000_000_000)
    }
}

#[cfg(test)]
mod tests {
    use super::largenum;

    #[test]
    fn scales_at_ipvsadms_boundaries() {
        // IPVSADM.md §3.2's sample row: 830843K and 1135M in a 9-wide column.
        assert_eq!(largenum(830_843_123, false), "  830843K");
        assert_eq!(largenum(1_135_999_999, false), "    1135M");
        assert_eq!(largenum(0, false), "        0");
        assert_eq!(largenum(99_999_999, false), " 99999999");
        assert_eq!(largenum(100_000_000, false), "  100000K");
        assert_eq!(largenum(999_999_999, false), "  999999K");
        assert_eq!(largenum(1_000_000_000, false), "    1000M");
        assert_eq!(largenum(99_999_999_999, false), "   99999M");
        assert_eq!(largenum(100_000_000_000, false), "     100G");
        assert_eq!(largenum(99_999_999_999_999, false), "   99999G");
        assert_eq!(largenum(100_000_000_000_000, false), "     100T");
        assert_eq!(largenum(u64::MAX, false), "18446744T");
    }

    #[test]
    fn exact_is_whole_with_at_least_one_space() {
        assert_eq!(largenum(40, true), "       40");
        assert_eq!(largenum(12_345_678, true), " 12345678");
        assert_eq!(largenum(123_456_789, true), " 123456789");
        assert_eq!(largenum(u64::MAX, true), " 18446744073709551615");
    }
}
