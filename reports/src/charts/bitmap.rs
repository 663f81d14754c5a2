//! PNG in and out of memory: encode the chart buffer, and check a chart file as a reader
//! would see it.

/// Encode an 8-bit RGB buffer as PNG. No time or text chunks: same pixels, same bytes.
pub(crate) fn encode(rgb: &[u8], width: u32, height: u32) -> Vec<u8> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    // Writing into a Vec cannot fail, and the buffer is width x height x 3 by construction.
    let mut writer = encoder.write_header().expect("PNG header into memory");
    writer
        .write_image_data(rgb)
        .expect("buffer matches the PNG header");
    writer.finish().expect("PNG into memory");
    out
}

/// What [`check_png`] saw in an image.
#[derive(Clone, Debug, PartialEq)]
pub struct PngCheck {
    pub width: u32,
    pub height: u32,
    /// Distinct RGB colours: a chart with text, lines and shading has hundreds.
    pub colors: usize,
    /// Fraction of pixels that differ from the most common colour (the background).
    pub ink: f64,
}

/// Decode a PNG and measure it, so tests can tell a drawn chart from a blank or broken
/// file (the CLI's tests reuse this on the files simctl writes).
pub fn check_png(bytes: &[u8]) -> Result<PngCheck, String> {
    let mut decoder = png::Decoder::new(bytes);
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = decoder.read_info().map_err(|e| format!("not a PNG: {e}"))?;
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader
        .next_frame(&mut buf)
        .map_err(|e| format!("PNG does not decode: {e}"))?;
    let samples = info.color_type.samples();
    let mut pixels: Vec<u32> = buf[..info.buffer_size()]
        .chunks_exact(samples)
        .map(|p| match p {
            [r, g, b, ..] => u32::from_be_bytes([0, *r, *g, *b]),
            [l, ..] => u32::from_be_bytes([0, *l, *l, *l]), // grey (+ alpha)
            [] => 0,
        })
        .collect();
    if pixels.is_empty() {
        return Err("PNG has no pixels".to_string());
    }
    pixels.sort_unstable();
    // Run lengths of the sorted pixels: the number of runs is the number of colours,
    // the longest run the background.
    let (mut colors, mut longest, mut run) = (1, 1, 1);
    for w in pixels.windows(2) {
        if w[0] == w[1] {
            run += 1;
        } else {
            colors += 1;
            run = 1;
        }
        longest = longest.max(run);
    }
    Ok(PngCheck {
        width: info.width,
        height: info.height,
        colors,
        ink: 1.0 - longest as f64 / pixels.len() as f64,
    })
}
