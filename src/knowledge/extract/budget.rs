//! One decompression budget per document, charged where bytes are actually
//! inflated: every decoder the extractors use writes through [`Budget`], so
//! a bomb stops at the limit whatever its syntax looks like to a pre-scan.
//!
//! The PDF decoders mirror what lopdf 0.42 does (`Stream::decompressed_content`):
//! zlib with a raw-deflate fallback past the 2-byte header, LZW (early change
//! by default), ASCII85, plus `ASCIIHex` and `RunLength`, with the PNG predictors
//! of `DecodeParms` after Flate and LZW.

use std::io::{Read, Write};

use lopdf::{Dictionary, Object};

use super::error;
use crate::error::{AppError, ErrorCode};

/// Bytes left to inflate for one document.
#[derive(Debug)]
pub struct Budget {
    limit: u64,
    used: u64,
}

impl Budget {
    /// A budget of `limit` decompressed bytes.
    #[must_use]
    pub fn new(limit: u64) -> Self {
        Self { limit, used: 0 }
    }

    /// Bytes inflated so far.
    #[must_use]
    pub fn used(&self) -> u64 {
        self.used
    }

    /// Charges `n` produced bytes; fails once the document is over its limit.
    pub fn charge(&mut self, n: usize) -> Result<(), AppError> {
        self.used = self.used.saturating_add(n as u64);
        if self.used > self.limit {
            return Err(self.exceeded());
        }
        Ok(())
    }

    /// The error of an exhausted budget.
    #[must_use]
    pub fn exceeded(&self) -> AppError {
        error(
            ErrorCode::DecompressionLimit,
            format!("the document expands beyond the decompression limit of {} MiB", self.limit >> 20),
        )
        .with_details(serde_json::json!({ "field": "file", "limit_bytes": self.limit }))
    }

    /// Reads `reader` to its end, charging every byte. `Ok((data, clean))`:
    /// `clean` is false when the reader failed part-way (what was read is kept,
    /// as lopdf keeps it).
    pub fn read_all(&mut self, mut reader: impl Read) -> Result<(Vec<u8>, bool), AppError> {
        let mut out = Vec::new();
        let mut buf = vec![0_u8; 64 * 1024];
        loop {
            match reader.read(&mut buf) {
                Ok(0) => return Ok((out, true)),
                Ok(n) => {
                    self.charge(n)?;
                    out.extend_from_slice(&buf[..n]);
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => return Ok((out, false)),
            }
        }
    }
}

/// A `Write` sink that charges the budget and refuses bytes past it.
struct Sink<'a> {
    out: Vec<u8>,
    budget: &'a mut Budget,
    over: Option<AppError>,
}

impl Write for Sink<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Err(e) = self.budget.charge(buf.len()) {
            self.over = Some(e);
            return Err(std::io::Error::other("decompression limit"));
        }
        self.out.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The result of decoding a stream's filter chain.
#[derive(Debug, PartialEq, Eq)]
pub enum Decoded {
    /// Every filter was applied: the plain content.
    Plain(Vec<u8>),
    /// The leading supported filters were applied; `rest` (starting with one
    /// this server does not decode, e.g. `DCTDecode`) remain.
    Partial { data: Vec<u8>, rest: Vec<Vec<u8>> },
}

/// Decodes `content` through `filters` (in decoding order) within `budget`.
/// A filter lopdf would fail on (bad ASCII85) leaves the input as it was, as
/// lopdf's callers fall back to the raw content.
pub fn decode(
    content: &[u8],
    filters: &[&[u8]],
    params: Option<&Dictionary>,
    budget: &mut Budget,
) -> Result<Decoded, AppError> {
    let mut data: Option<Vec<u8>> = None;
    for (i, filter) in filters.iter().enumerate() {
        let input = data.as_deref().unwrap_or(content);
        let output = match *filter {
            b"FlateDecode" | b"Fl" => predict(flate(input, budget)?, params)?,
            b"LZWDecode" | b"LZW" => predict(lzw(input, params, budget)?, params)?,
            b"ASCII85Decode" | b"A85" => match ascii85(input, budget)? {
                Some(out) => out,
                None => return Ok(Decoded::Plain(content.to_vec())),
            },
            b"ASCIIHexDecode" | b"AHx" => ascii_hex(input, budget)?,
            b"RunLengthDecode" | b"RL" => run_length(input, budget)?,
            _ => {
                let rest = filters[i..].iter().map(|f| f.to_vec()).collect();
                return Ok(Decoded::Partial { data: data.unwrap_or_else(|| content.to_vec()), rest });
            }
        };
        data = Some(output);
    }
    Ok(Decoded::Plain(data.unwrap_or_else(|| content.to_vec())))
}

/// zlib; on a zlib error with nothing produced, raw deflate after the
/// 2-byte header (what lopdf does for, e.g., bad checksums).
fn flate(input: &[u8], budget: &mut Budget) -> Result<Vec<u8>, AppError> {
    if input.is_empty() {
        return Ok(Vec::new());
    }
    let (out, clean) = budget.read_all(flate2::read::ZlibDecoder::new(input))?;
    if clean || !out.is_empty() || input.len() <= 2 {
        return Ok(out);
    }
    let (out, _) = budget.read_all(flate2::read::DeflateDecoder::new(&input[2..]))?;
    Ok(out)
}

fn lzw(input: &[u8], params: Option<&Dictionary>, budget: &mut Budget) -> Result<Vec<u8>, AppError> {
    use weezl::{BitOrder, decode::Decoder};
    let early_change =
        params.and_then(|p| p.get(b"EarlyChange").ok()).and_then(|p| Object::as_i64(p).ok()).is_none_or(|v| v != 0);
    let mut decoder =
        if early_change { Decoder::with_tiff_size_switch(BitOrder::Msb, 8) } else { Decoder::new(BitOrder::Msb, 8) };
    let mut sink = Sink { out: Vec::new(), budget, over: None };
    // A decoding error keeps what was decoded (as lopdf does); only the budget stops us.
    let _ = decoder.into_stream(&mut sink).decode_all(input);
    match sink.over {
        Some(e) => Err(e),
        None => Ok(sink.out),
    }
}

/// ASCII85 as lopdf decodes it; `None` where lopdf fails (its callers then
/// use the raw content).
fn ascii85(input: &[u8], budget: &mut Budget) -> Result<Option<Vec<u8>>, AppError> {
    let body = input.strip_suffix(b"~>").unwrap_or(input);
    let mut out = Vec::with_capacity(body.len() / 5 * 4 + 4);
    let mut group: u32 = 0;
    let mut count = 0_usize;
    for &ch in body {
        if ch == b'z' {
            if count != 0 {
                return Ok(None);
            }
            budget.charge(4)?;
            out.extend_from_slice(&[0; 4]);
            continue;
        }
        if ch.is_ascii_whitespace() {
            continue;
        }
        if !(b'!'..=b'u').contains(&ch) {
            break;
        }
        let Some(next) = group.checked_mul(85).and_then(|g| g.checked_add(u32::from(ch - b'!'))) else {
            return Ok(None);
        };
        group = next;
        count += 1;
        if count == 5 {
            budget.charge(4)?;
            out.extend_from_slice(&group.to_be_bytes());
            group = 0;
            count = 0;
        }
    }
    if count > 0 {
        for _ in count..5 {
            let Some(next) = group.checked_mul(85).and_then(|g| g.checked_add(84)) else { return Ok(None) };
            group = next;
        }
        budget.charge(count - 1)?;
        out.extend_from_slice(&group.to_be_bytes()[..count - 1]);
    }
    Ok(Some(out))
}

fn ascii_hex(input: &[u8], budget: &mut Budget) -> Result<Vec<u8>, AppError> {
    let mut out = Vec::with_capacity(input.len() / 2 + 1);
    let mut high: Option<u8> = None;
    for &ch in input {
        if ch == b'>' {
            break;
        }
        let Some(v) = (ch as char).to_digit(16) else { continue };
        #[allow(clippy::cast_possible_truncation, reason = "a hex digit is below 16")]
        let v = v as u8;
        match high.take() {
            Some(h) => out.push(h << 4 | v),
            None => high = Some(v),
        }
    }
    if let Some(h) = high {
        out.push(h << 4);
    }
    budget.charge(out.len())?;
    Ok(out)
}

fn run_length(input: &[u8], budget: &mut Budget) -> Result<Vec<u8>, AppError> {
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(&len) = input.get(i) {
        i += 1;
        match len {
            128 => break,
            0..=127 => {
                let n = usize::from(len) + 1;
                let run = &input[i..input.len().min(i + n)];
                budget.charge(run.len())?;
                out.extend_from_slice(run);
                i += n;
            }
            _ => {
                let n = 257 - usize::from(len);
                let Some(&byte) = input.get(i) else { break };
                budget.charge(n)?;
                out.resize(out.len() + n, byte);
                i += 1;
            }
        }
    }
    Ok(out)
}

/// The PNG predictors (10–15) lopdf applies after Flate and LZW; the output
/// is never larger than the input.
fn predict(data: Vec<u8>, params: Option<&Dictionary>) -> Result<Vec<u8>, AppError> {
    let Some(params) = params else { return Ok(data) };
    let get = |key: &[u8], default: i64| params.get(key).and_then(Object::as_i64).unwrap_or(default);
    if !(10..=15).contains(&get(b"Predictor", 1)) {
        return Ok(data);
    }
    let as_size = |v: i64| usize::try_from(v.max(1)).unwrap_or(1);
    let columns = as_size(get(b"Columns", 1));
    let colors = as_size(get(b"Colors", 1));
    let bits = as_size(get(b"BitsPerComponent", 8)).max(8);
    let bytes_per_pixel = colors.saturating_mul(bits) / 8;
    if columns.saturating_mul(bytes_per_pixel) > data.len().max(1 << 20) {
        // A row longer than the data is a damaged parameter, not a document.
        return Err(error(ErrorCode::CorruptFile, "a PDF stream has an impossible predictor row size"));
    }
    lopdf::filters::png::decode_frame(&data, bytes_per_pixel, columns)
        .map_err(|e| error(ErrorCode::CorruptFile, format!("a PDF stream's predictor data is damaged: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zlib(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(data).expect("write");
        e.finish().expect("finish")
    }

    #[test]
    fn flate_stops_at_the_budget_and_falls_back_to_raw_deflate() {
        let data = vec![b' '; 4 << 20];
        let mut b = Budget::new(1 << 20);
        let e = decode(&zlib(&data), &[b"FlateDecode"], None, &mut b).expect_err("over");
        assert_eq!(e.code(), ErrorCode::DecompressionLimit);
        assert!(b.used() <= (1 << 20) + 64 * 1024, "stopped near the limit: {}", b.used());

        // `\0\0` + raw deflate: not zlib, yet lopdf inflates it; so do we, within the budget.
        let mut raw = b"\0\0".to_vec();
        let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(b"BT (hi) Tj ET").expect("w");
        raw.extend(e.finish().expect("f"));
        let mut b = Budget::new(1 << 20);
        assert_eq!(
            decode(&raw, &[b"FlateDecode"], None, &mut b).expect("ok"),
            Decoded::Plain(b"BT (hi) Tj ET".to_vec())
        );
    }

    #[test]
    fn every_filter_is_charged_and_unknown_filters_are_left() {
        let mut b = Budget::new(1 << 20);
        assert_eq!(
            decode(b"48 65 6C6c6f>", &[b"ASCIIHexDecode"], None, &mut b).expect("hex"),
            Decoded::Plain(b"Hello".to_vec())
        );
        assert_eq!(
            decode(b"87cURDZ~>", &[b"ASCII85Decode"], None, &mut b).expect("a85"),
            Decoded::Plain(b"Hello".to_vec())
        );
        assert_eq!(
            decode(&[2, b'a', b'b', b'c', 254, b'x', 128], &[b"RunLengthDecode"], None, &mut b).expect("rl"),
            Decoded::Plain(b"abcxxx".to_vec())
        );
        let z = zlib(b"abc");
        assert_eq!(
            decode(&z, &[b"FlateDecode", b"DCTDecode"], None, &mut b).expect("partial"),
            Decoded::Partial { data: b"abc".to_vec(), rest: vec![b"DCTDecode".to_vec()] }
        );
        // A run-length bomb: 2 bytes → 128 bytes, many times over.
        let bomb: Vec<u8> = std::iter::repeat_n([129_u8, b'a'], 20_000).flatten().collect();
        let mut small = Budget::new(1 << 20);
        assert_eq!(
            decode(&bomb, &[b"RunLengthDecode"], None, &mut small).expect_err("rl bomb").code(),
            ErrorCode::DecompressionLimit
        );
        // LZW of a long run, against a small budget.
        let mut enc = weezl::encode::Encoder::with_tiff_size_switch(weezl::BitOrder::Msb, 8);
        let lzw = enc.encode(&vec![b'a'; 4 << 20]).expect("lzw");
        let mut small = Budget::new(1 << 20);
        assert_eq!(
            decode(&lzw, &[b"LZWDecode"], None, &mut small).expect_err("lzw bomb").code(),
            ErrorCode::DecompressionLimit
        );
    }
}
