// The committed icons: every tray state at every size each OS wants, the app icon, and the ICO and
// ICNS containers parsed back byte by byte. Then `npm run icons` is run again into a temporary
// folder (Debian's Chromium renders the SVG) and must reproduce the committed files exactly.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { test } from 'vitest';
import { ROOT, tmpDir } from '../helpers/repo';
import { requireProgram } from '../helpers/system';

const BUILD = path.join(ROOT, 'build');
const STATES = ['idle', 'active', 'pending', 'offline', 'error'];
const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

interface Png {
  width: number;
  height: number;
  colourType: number;
}

/** The IHDR chunk of a PNG: it must come first, right after the signature. */
function ihdr(buf: Buffer, what: string): Png {
  assert.ok(buf.subarray(0, 8).equals(PNG_SIGNATURE), `${what} is a PNG`);
  assert.equal(buf.toString('latin1', 12, 16), 'IHDR', `${what}: IHDR first`);
  return { width: buf.readUInt32BE(16), height: buf.readUInt32BE(20), colourType: buf.readUInt8(25) };
}

/** A file under build/, or any absolute path. */
const at = (rel: string) => (path.isAbsolute(rel) ? rel : path.join(BUILD, rel));

function png(rel: string): Png {
  return ihdr(fs.readFileSync(at(rel)), rel);
}

/** Parses an ICO: each entry's declared size, and the size its image really has (PNG or DIB). */
function parseIco(rel: string): { declared: number; actual: number; format: 'png' | 'bmp' }[] {
  const buf = fs.readFileSync(at(rel));
  assert.equal(buf.readUInt16LE(0), 0, `${rel}: reserved`);
  assert.equal(buf.readUInt16LE(2), 1, `${rel}: type icon`);
  const count = buf.readUInt16LE(4);
  const out = [];
  let end = 6 + 16 * count;
  for (let i = 0; i < count; i++) {
    const e = 6 + 16 * i;
    const declared = buf.readUInt8(e) || 256;
    assert.equal(buf.readUInt8(e + 1) || 256, declared, `${rel}: square entry`);
    assert.equal(buf.readUInt16LE(e + 6), 32, `${rel}: 32 bits per pixel`);
    const length = buf.readUInt32LE(e + 8);
    const offset = buf.readUInt32LE(e + 12);
    assert.equal(offset, end, `${rel}: images follow each other`);
    assert.ok(offset + length <= buf.length, `${rel}: image ${i} inside the file`);
    const body = buf.subarray(offset, offset + length);
    end = offset + length;
    if (body.subarray(0, 8).equals(PNG_SIGNATURE)) {
      const h = ihdr(body, `${rel}#${i}`);
      assert.equal(h.width, h.height);
      out.push({ declared, actual: h.width, format: 'png' as const });
    } else {
      assert.equal(body.readUInt32LE(0), 40, `${rel}#${i}: BITMAPINFOHEADER`);
      const w = body.readInt32LE(4);
      assert.equal(body.readInt32LE(8), 2 * w, `${rel}#${i}: height counts the AND mask`);
      assert.equal(body.readUInt16LE(14), 32);
      const maskRow = Math.ceil(w / 32) * 4;
      assert.equal(body.length, 40 + w * w * 4 + maskRow * w, `${rel}#${i}: pixels + mask`);
      // a 32-bit icon carries its shape in alpha: some pixels see-through, some solid
      let clear = 0;
      let solid = 0;
      for (let p = 40 + 3; p < 40 + w * w * 4; p += 4) {
        if (body[p]! < 64) clear++;
        else if (body[p]! > 128) solid++;
      }
      assert.ok(clear > 0 && solid > 0, `${rel}#${i}: a shape in the alpha channel`);
      out.push({ declared, actual: w, format: 'bmp' as const });
    }
  }
  assert.equal(end, buf.length, `${rel}: nothing after the last image`);
  return out;
}

test('every tray state has its PNGs (16, 32 @2x), macOS template images and a multi-size .ico', () => {
  for (const state of STATES) {
    for (const [suffix, size] of [
      ['', 16],
      ['@2x', 32],
      ['Template', 16],
      ['Template@2x', 32],
    ] as const) {
      const h = png(`icons/tray-${state}${suffix}.png`);
      assert.deepEqual([h.width, h.height], [size, size], `tray-${state}${suffix}.png`);
      assert.equal(h.colourType, 6, `tray-${state}${suffix}.png is RGBA`);
    }
    const ico = parseIco(`icons/tray-${state}.ico`);
    assert.deepEqual(
      ico.map((e) => e.declared),
      [16, 20, 24, 32, 40, 48, 64],
    );
    for (const e of ico) assert.equal(e.actual, e.declared);
  }
});

/** RGBA pixels of an 8-bit RGBA, non-interlaced PNG (what Chromium's encoder writes). */
function decodeRgba(rel: string): { size: number; px: Buffer } {
  const buf = fs.readFileSync(at(rel));
  const h = ihdr(buf, rel);
  assert.deepEqual(
    [buf.readUInt8(24), h.colourType, buf.readUInt8(28)],
    [8, 6, 0],
    `${rel}: 8-bit RGBA, not interlaced`,
  );
  const idat: Buffer[] = [];
  for (let at = 8; at < buf.length;) {
    const len = buf.readUInt32BE(at);
    if (buf.toString('latin1', at + 4, at + 8) === 'IDAT') idat.push(buf.subarray(at + 8, at + 8 + len));
    at += 12 + len;
  }
  const raw = zlib.inflateSync(Buffer.concat(idat));
  const stride = h.width * 4;
  const px = Buffer.alloc(stride * h.height);
  for (let y = 0; y < h.height; y++) {
    const filter = raw[y * (stride + 1)]!;
    for (let x = 0; x < stride; x++) {
      const v = raw[y * (stride + 1) + 1 + x]!;
      const a = x >= 4 ? px[y * stride + x - 4]! : 0;
      const b = y > 0 ? px[(y - 1) * stride + x]! : 0;
      const c = x >= 4 && y > 0 ? px[(y - 1) * stride + x - 4]! : 0;
      const p = a + b - c;
      const pa = Math.abs(p - a);
      const pb = Math.abs(p - b);
      const pc = Math.abs(p - c);
      const paeth = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      px[y * stride + x] = (v + [0, a, b, (a + b) >> 1, paeth][filter]!) & 0xff;
    }
  }
  return { size: h.width, px };
}

test('the states look different, templates are black with alpha only, colour icons carry colour', () => {
  const seen = new Set<string>();
  for (const state of STATES) {
    for (const suffix of ['@2x', 'Template@2x']) {
      const bytes = fs.readFileSync(path.join(BUILD, 'icons', `tray-${state}${suffix}.png`)).toString('base64');
      assert.ok(!seen.has(bytes), `tray-${state}${suffix}.png differs from every other state`);
      seen.add(bytes);
    }
    for (const suffix of ['Template', 'Template@2x']) {
      const { px } = decodeRgba(`icons/tray-${state}${suffix}.png`);
      let opaque = 0;
      for (let i = 0; i < px.length; i += 4) {
        if (px[i + 3] === 0) continue;
        opaque++;
        assert.deepEqual(
          [px[i], px[i + 1], px[i + 2]],
          [0, 0, 0],
          `tray-${state}${suffix}.png: black wherever it is not transparent`,
        );
      }
      assert.ok(opaque > 0 && opaque < px.length / 4, `tray-${state}${suffix}.png has a shape`);
    }
  }
  // the badge's colour is in the coloured icon: green for active, red for error
  const dominant = (state: string, channel: 0 | 1 | 2) => {
    const { px } = decodeRgba(`icons/tray-${state}@2x.png`);
    let n = 0;
    for (let i = 0; i < px.length; i += 4)
      if (px[i + 3]! > 200 && px[i + channel]! > 120 && [0, 1, 2].every((c) => c === channel || px[i + c]! < 90)) n++;
    return n;
  };
  assert.ok(dominant('active', 1) > 20, 'a green badge on active');
  assert.ok(dominant('error', 0) > 20, 'a red badge on error');
  assert.equal(dominant('idle', 1) + dominant('idle', 0), 0, 'idle has no badge colour');
});

/** The element types of an ICNS file and the pixel size of the PNG each holds. */
function icnsTypes(rel: string): Record<string, number> {
  const icns = fs.readFileSync(at(rel));
  assert.equal(icns.toString('latin1', 0, 4), 'icns');
  assert.equal(icns.readUInt32BE(4), icns.length);
  const types: Record<string, number> = {};
  for (let pos = 8; pos < icns.length;) {
    const type = icns.toString('latin1', pos, pos + 4);
    const len = icns.readUInt32BE(pos + 4);
    assert.ok(len > 8 && pos + len <= icns.length, `${type}: length inside the file`);
    types[type] = ihdr(icns.subarray(pos + 8, pos + len), `icns ${type}`).width;
    pos += len;
  }
  return types;
}

test('the app icon: 256/512/1024 PNGs, an .ico up to 256 and an .icns with the sizes macOS asks for', () => {
  for (const size of [256, 512, 1024])
    assert.deepEqual(Object.values(png(`app/${size}x${size}.png`)).slice(0, 2), [size, size]);
  const ico = parseIco('app/icon.ico');
  assert.deepEqual(
    ico.map((e) => [e.declared, e.format]),
    [
      [16, 'bmp'],
      [24, 'bmp'],
      [32, 'bmp'],
      [48, 'bmp'],
      [64, 'bmp'],
      [128, 'png'],
      [256, 'png'],
    ],
  );
  for (const e of ico) assert.equal(e.actual, e.declared);

  const types = icnsTypes('app/icon.icns');
  assert.deepEqual(types, {
    icp4: 16,
    icp5: 32,
    ic11: 32,
    icp6: 64,
    ic12: 64,
    ic07: 128,
    ic08: 256,
    ic13: 256,
    ic09: 512,
    ic14: 512,
    ic10: 1024,
  });
});

test('`npm run icons` regenerates the committed files from build/icons/source.svg', (t) => {
  if (!requireProgram(t, 'chromium', 'the icons are rendered in headless Chromium')) return;
  const out = tmpDir('pim-icons-');
  const r = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'icons.mjs'), '--out', out], {
    encoding: 'utf8',
    timeout: 120_000,
  });
  assert.equal(r.status, 0, r.stderr);
  const files = (dir: string) => fs.readdirSync(path.join(out, dir)).sort();
  assert.deepEqual(
    files('icons'),
    fs
      .readdirSync(path.join(BUILD, 'icons'))
      .filter((f) => f.startsWith('tray-'))
      .sort(),
  );
  assert.deepEqual(files('app'), fs.readdirSync(path.join(BUILD, 'app')).sort());
  const stale = (f: string) =>
    `${f} is not what the script makes from source.svg: run npm run icons and commit the result`;
  let identical = 0;
  for (const dir of ['icons', 'app']) {
    for (const f of files(dir)) {
      const made = path.join(out, dir, f);
      if (fs.readFileSync(made).equals(fs.readFileSync(at(`${dir}/${f}`)))) {
        identical++;
        continue;
      }
      // Same source, another Chromium: anti-aliasing may differ by a shade, nothing more
      if (f.endsWith('.ico')) assert.deepEqual(parseIco(made), parseIco(`${dir}/${f}`), stale(f));
      else if (f.endsWith('.png')) {
        const a = decodeRgba(made);
        const b = decodeRgba(`${dir}/${f}`);
        assert.equal(a.size, b.size, stale(f));
        let diff = 0;
        for (let i = 0; i < a.px.length; i++) diff += Math.abs(a.px[i]! - b.px[i]!);
        assert.ok(
          diff / a.px.length < 2,
          `${stale(f)} (mean difference ${(diff / a.px.length).toFixed(2)} per channel)`,
        );
      } else assert.deepEqual(icnsTypes(made), icnsTypes(`${dir}/${f}`), stale(f));
    }
  }
  // on the machine that made the committed files the output is byte for byte the same
  process.stderr.write(
    `icons: ${identical} of ${files('icons').length + files('app').length} files byte-identical after regeneration\n`,
  );
});
