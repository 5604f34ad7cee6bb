//! Exact parsing of Kubernetes resource quantities (`"250m"`, `"0.5"`, `"1.5Gi"`, `"1e3"`), so
//! every provider rule compares amounts, never strings or floats.

/// A parsed, non-negative quantity: `mantissa x 10^scale x 2^binary_exponent`, exactly.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Amount {
    mantissa: u128,
    scale: i32,
    binary_exponent: u32,
}

/// Why a quantity could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum QuantityError {
    /// Not in the Kubernetes quantity grammar.
    #[error(
        "{0:?} is not a quantity: write a number with an optional suffix, e.g. \"500m\", \"0.5\", \"512Mi\", \"2Gi\""
    )]
    Syntax(String),
    /// A negative amount, where only amounts of something make sense.
    #[error("{0:?} is negative")]
    Negative(String),
    /// More digits or a larger exponent than any resource needs.
    #[error("{0:?} is out of range")]
    OutOfRange(String),
}

const MAX_DIGITS: usize = 30;

impl Amount {
    /// Parses a quantity. Negative amounts are refused: every quantity Ferry reads is a size.
    pub fn parse(text: &str) -> Result<Self, QuantityError> {
        let syntax = || QuantityError::Syntax(text.to_owned());
        let (negative, rest) = match text.as_bytes().first() {
            Some(b'+') => (false, &text[1..]),
            Some(b'-') => (true, &text[1..]),
            _ => (false, text),
        };
        let number_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (number, suffix) = rest.split_at(number_end);
        let (int_part, frac_part) = number.split_once('.').unwrap_or((number, ""));
        if (int_part.is_empty() && frac_part.is_empty()) || frac_part.contains('.') {
            return Err(syntax());
        }
        let digits = format!("{int_part}{frac_part}");
        let digits = digits.trim_start_matches('0');
        if digits.len() > MAX_DIGITS {
            return Err(QuantityError::OutOfRange(text.to_owned()));
        }
        let mantissa: u128 = if digits.is_empty() {
            0
        } else {
            digits.parse().map_err(|_| syntax())?
        };
        let frac_digits = i32::try_from(frac_part.len()).map_err(|_| syntax())?;
        let (exponent10, binary_exponent) = parse_suffix(suffix).ok_or_else(syntax)?;
        if negative && mantissa != 0 {
            return Err(QuantityError::Negative(text.to_owned()));
        }
        let scale = exponent10 - frac_digits;
        if !(-60..=60).contains(&scale) {
            return Err(QuantityError::OutOfRange(text.to_owned()));
        }
        Ok(Self {
            mantissa,
            scale,
            binary_exponent,
        })
    }

    /// Whether the amount is zero.
    pub fn is_zero(self) -> bool {
        self.mantissa == 0
    }

    /// The amount in thousandths (millicores for CPU), rounded up as the API server does.
    pub fn millis_ceil(self) -> Option<u64> {
        self.scaled_ceil(3)
    }

    /// The amount as a whole number (bytes for memory), rounded up.
    pub fn units_ceil(self) -> Option<u64> {
        self.scaled_ceil(0)
    }

    /// `self x 10^extra_scale`, rounded up to an integer; `None` when it does not fit in `u64`.
    fn scaled_ceil(self, extra_scale: i32) -> Option<u64> {
        let base = self
            .mantissa
            .checked_mul(1u128.checked_shl(self.binary_exponent)?)?;
        let scale = self.scale + extra_scale;
        let value = if scale >= 0 {
            base.checked_mul(10u128.checked_pow(scale.unsigned_abs())?)?
        } else {
            match 10u128.checked_pow(scale.unsigned_abs()) {
                Some(divisor) => base.div_ceil(divisor),
                // The divisor exceeds any u128, so a non-zero amount rounds up to one unit.
                None => u128::from(base != 0),
            }
        };
        u64::try_from(value).ok()
    }
}

/// `(power of ten, power of two)` for a suffix.
fn parse_suffix(suffix: &str) -> Option<(i32, u32)> {
    let decimal = |e| Some((e, 0));
    let binary = |e| Some((0, e));
    match suffix {
        "" => decimal(0),
        "n" => decimal(-9),
        "u" => decimal(-6),
        "m" => decimal(-3),
        "k" => decimal(3),
        "M" => decimal(6),
        "G" => decimal(9),
        "T" => decimal(12),
        "P" => decimal(15),
        "E" => decimal(18),
        "Ki" => binary(10),
        "Mi" => binary(20),
        "Gi" => binary(30),
        "Ti" => binary(40),
        "Pi" => binary(50),
        "Ei" => binary(60),
        _ => {
            let exponent = suffix.strip_prefix(['e', 'E'])?;
            let negative = exponent.starts_with('-');
            let digits = exponent.strip_prefix(['+', '-']).unwrap_or(exponent);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            // Out-of-range exponents saturate, so the caller reports "too large".
            let magnitude: i32 = digits.parse().unwrap_or(i32::MAX);
            Some((if negative { -magnitude } else { magnitude }, 0))
        }
    }
}

/// CPU in millicores, formatted as people write vCPU counts: `0.25`, `1`, `3.5`.
pub fn format_cores(millis: u64) -> String {
    let whole = millis / 1000;
    let frac = millis % 1000;
    if frac == 0 {
        whole.to_string()
    } else {
        let frac = format!("{frac:03}");
        format!("{whole}.{}", frac.trim_end_matches('0'))
    }
}

/// Bytes in the largest binary unit that holds them exactly: `512Mi`, `2Gi`, `1536Mi`.
pub fn format_bytes(bytes: u64) -> String {
    const UNITS: [(&str, u32); 4] = [("Ti", 40), ("Gi", 30), ("Mi", 20), ("Ki", 10)];
    for (unit, shift) in UNITS {
        let size = 1u64 << shift;
        if bytes >= size && bytes.is_multiple_of(size) {
            return format!("{}{unit}", bytes / size);
        }
    }
    format!("{bytes} bytes")
}

/// Millicores as a Kubernetes quantity: whole cores plainly (`"2"`), the rest in `m`.
pub fn kube_cpu(millis: u64) -> String {
    if millis.is_multiple_of(1000) {
        (millis / 1000).to_string()
    } else {
        format!("{millis}m")
    }
}

/// Bytes as a Kubernetes quantity, in the form the API server gives back (so that what Ferry
/// applied compares equal to what it reads): in the largest binary unit that holds them
/// exactly; else, as the server canonicalizes a plain count, in the largest decimal unit that
/// does (`1G`, `1500M`); else as a plain count.
pub fn kube_bytes(bytes: u64) -> String {
    const BINARY: [(&str, u32); 5] = [("Pi", 50), ("Ti", 40), ("Gi", 30), ("Mi", 20), ("Ki", 10)];
    const DECIMAL: [(&str, u64); 6] = [
        ("E", 1_000_000_000_000_000_000),
        ("P", 1_000_000_000_000_000),
        ("T", 1_000_000_000_000),
        ("G", 1_000_000_000),
        ("M", 1_000_000),
        ("k", 1_000),
    ];
    if bytes == 0 {
        return "0".to_owned();
    }
    if let Some((unit, shift)) = BINARY
        .iter()
        .find(|(_, shift)| bytes.trailing_zeros() >= *shift)
    {
        return format!("{}{unit}", bytes >> shift);
    }
    DECIMAL
        .iter()
        .find(|(_, size)| bytes.is_multiple_of(*size))
        .map_or_else(
            || bytes.to_string(),
            |(unit, size)| format!("{}{unit}", bytes / size),
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubernetes_quantities_are_written_as_the_api_server_gives_them_back() {
        let cases = [
            (0, "0"),
            (512 << 20, "512Mi"),
            (1536 << 20, "1536Mi"),
            (1 << 30, "1Gi"),
            (1_000_000_000, "1G"),
            (1_500_000_000, "1500M"),
            (1_024_000, "1000Ki"),
            (1_000, "1k"),
            (1_000_000_001, "1000000001"),
        ];
        for (bytes, want) in cases {
            assert_eq!(kube_bytes(bytes), want, "{bytes}");
        }
        assert_eq!(kube_cpu(2000), "2");
        assert_eq!(kube_cpu(1500), "1500m");
    }
    use proptest::prelude::*;

    fn millis(s: &str) -> u64 {
        Amount::parse(s).unwrap().millis_ceil().unwrap()
    }

    fn bytes(s: &str) -> u64 {
        Amount::parse(s).unwrap().units_ceil().unwrap()
    }

    #[test]
    fn cpu_quantities_become_millicores() {
        for (text, expected) in [
            ("1", 1000),
            ("0.25", 250),
            ("250m", 250),
            (".5", 500),
            ("2.", 2000),
            ("1500m", 1500),
            ("1e3", 1_000_000),
            ("0.0001", 1),
            ("100u", 1),
            ("+4", 4000),
            ("0", 0),
            ("-0", 0),
        ] {
            assert_eq!(millis(text), expected, "{text}");
        }
    }

    #[test]
    fn memory_quantities_become_bytes() {
        for (text, expected) in [
            ("512Mi", 512 << 20),
            ("2Gi", 2 << 30),
            ("1.5Gi", 3 << 29),
            ("1G", 1_000_000_000),
            ("128974848", 128_974_848),
            ("129e6", 129_000_000),
            ("123Mi", 123 << 20),
            ("1Ki", 1024),
            ("0.5Ki", 512),
            ("1m", 1),
        ] {
            assert_eq!(bytes(text), expected, "{text}");
        }
    }

    #[test]
    fn malformed_quantities_are_refused_with_an_example() {
        for text in [
            "", "abc", "1.2.3", "1GB", "1 Gi", "Gi", ".", "1e", "1e+", "0x10", "1ki",
        ] {
            let err = Amount::parse(text).unwrap_err();
            assert!(matches!(err, QuantityError::Syntax(_)), "{text}: {err:?}");
            assert!(err.to_string().contains("512Mi"), "{err}");
        }
    }

    #[test]
    fn negative_and_huge_quantities_are_refused() {
        assert!(matches!(
            Amount::parse("-1"),
            Err(QuantityError::Negative(_))
        ));
        assert!(matches!(
            Amount::parse("1e99999999999"),
            Err(QuantityError::OutOfRange(_))
        ));
        assert!(matches!(
            Amount::parse("1e99"),
            Err(QuantityError::OutOfRange(_))
        ));
        assert!(Amount::parse("16Ei").unwrap().units_ceil().is_none());
    }

    #[test]
    fn formatting_reads_like_the_provider_tables() {
        assert_eq!(format_cores(250), "0.25");
        assert_eq!(format_cores(3000), "3");
        assert_eq!(format_cores(80), "0.08");
        assert_eq!(format_bytes(512 << 20), "512Mi");
        assert_eq!(format_bytes(3 << 29), "1536Mi");
        assert_eq!(format_bytes(30 << 30), "30Gi");
        assert_eq!(format_bytes(1_000_000_000), "1000000000 bytes");
    }

    proptest! {
        #[test]
        fn parsing_never_panics(text in "\\PC{0,24}") {
            let _ = Amount::parse(&text).map(|a| (a.millis_ceil(), a.units_ceil()));
        }

        #[test]
        fn whole_numbers_of_mebibytes_round_trip(mib in 1u64..1_000_000) {
            prop_assert_eq!(bytes(&format!("{mib}Mi")), mib << 20);
            prop_assert_eq!(format_bytes(mib << 20), format_bytes(bytes(&format!("{}", mib << 20))));
        }

        #[test]
        fn millicores_round_trip_through_decimal_cores(m in 1u64..1_000_000) {
            prop_assert_eq!(millis(&format_cores(m)), m);
            prop_assert_eq!(millis(&format!("{m}m")), m);
        }
    }
}
