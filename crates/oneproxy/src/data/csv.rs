//! The one CSV writer and the line numbers of the readers' messages. Every CSV oneproxy writes
//! goes through [`csv_text`] (quoting by the csv crate); every reader names lines with
//! [`LineIndex`].

/// CSV text of records, quoted by the csv crate where needed.
pub fn csv_text<const N: usize>(records: impl IntoIterator<Item = [String; N]>) -> String {
    let mut w = ::csv::Writer::from_writer(Vec::new());
    for r in records {
        w.write_record(&r).expect("writing to memory cannot fail");
    }
    String::from_utf8(w.into_inner().expect("writing to memory cannot fail")).expect("the records are UTF-8")
}

/// 1-based line numbers of csv records, for messages. The csv reader's own line count is off on
/// CRLF files (it reports the first data row as line 1, the header's line): a record's byte
/// offset there points at the `\n` that ends the previous line. The offset is moved past line
/// ends first, then its line counted.
pub struct LineIndex<'a> {
    bytes: &'a [u8],
    /// Offsets of every `\n`.
    newlines: Vec<usize>,
}

impl<'a> LineIndex<'a> {
    /// The line structure of `bytes`.
    pub fn new(bytes: &'a [u8]) -> Self {
        LineIndex { bytes, newlines: bytes.iter().enumerate().filter(|(_, b)| **b == b'\n').map(|(i, _)| i).collect() }
    }

    /// The line of the first character at or after `offset` that does not end a line (1-based).
    pub fn line(&self, offset: u64) -> u64 {
        let mut at = offset as usize;
        while self.bytes.get(at).is_some_and(|b| *b == b'\n' || *b == b'\r') {
            at += 1;
        }
        self.newlines.partition_point(|&n| n < at) as u64 + 1
    }

    /// The line where a csv record starts.
    pub fn of(&self, record: &::csv::StringRecord) -> u64 {
        record.position().map_or(0, |p| self.line(p.byte()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_lines_are_right_with_crlf_blank_lines_and_quoted_newlines() {
        for (text, want) in [
            ("h,v\r\na,1\r\nb,2\r\n", vec![2, 3]),
            ("h,v\n\na,1\n\nb,2\n", vec![3, 5]),
            ("h,v\n\"a\nx\",1\nb,2\n", vec![2, 4]),
        ] {
            let lines = LineIndex::new(text.as_bytes());
            let mut r = ::csv::ReaderBuilder::new().from_reader(text.as_bytes());
            let got: Vec<u64> = r.records().map(|rec| lines.of(&rec.unwrap())).collect();
            assert_eq!(got, want, "{text:?}");
        }
    }
}
