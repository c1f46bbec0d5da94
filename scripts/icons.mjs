// `npm run icons`: every icon the app ships, rendered from the one source build/icons/source.svg in
// headless Chromium (playwright-core driving Debian's /usr/bin/chromium, or $PIM_CHROMIUM).
//   build/icons/tray-<state>.png / @2x.png            16 / 32 px, coloured (Linux, Windows)
//   build/icons/tray-<state>Template.png / @2x.png    16 / 32 px, black + alpha (macOS menu bar)
//   build/icons/tray-<state>.ico                       16-64 px (Windows notification area)
//   build/app/<n>x<n>.png, icon.ico, icon.icns         the application icon (installers, docks)
// The ICO and ICNS containers are written here (a few lines each; test/unit/icons.test.ts parses
// them back). `--out DIR` writes the same tree under DIR instead of build/ (the test regenerates
// into a temporary folder and compares).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export const STATES = ['idle', 'active', 'pending', 'offline', 'error'];
const GLYPH = '#56657b'; // mid slate: readable on light and on dark panels
const COLOURS = {
  idle: { glyph: GLYPH, badge: null },
  active: { glyph: GLYPH, badge: '#1a8f4c' },
  pending: { glyph: GLYPH, badge: '#c77d00' },
  offline: { glyph: GLYPH, glyphOpacity: 0.55, badge: '#7c8796' },
  error: { glyph: GLYPH, badge: '#d1242f' },
};
const TRAY_ICO_SIZES = [16, 20, 24, 32, 40, 48, 64];
const APP_PNG_SIZES = [16, 24, 32, 48, 64, 128, 256, 512, 1024];
const APP_ICO_SIZES = [16, 24, 32, 48, 64, 128, 256];
// ICNS element types holding PNG data, by pixel size (Apple's iconutil writes the same set)
const ICNS_TYPES = [
  ['icp4', 16],
  ['icp5', 32],
  ['ic11', 32],
  ['icp6', 64],
  ['ic12', 64],
  ['ic07', 128],
  ['ic08', 256],
  ['ic13', 256],
  ['ic09', 512],
  ['ic14', 512],
  ['ic10', 1024],
];

/** What the page does to the source for one variant (runs in Chromium). */
function renderInPage({ source, variant, size }) {
  const doc = new DOMParser().parseFromString(source, 'image/svg+xml');
  const svg = doc.documentElement;
  const byId = (id) => doc.getElementById(id);
  svg.setAttribute('width', String(size));
  svg.setAttribute('height', String(size));
  const glyph = byId('glyph');
  for (const b of [...doc.querySelectorAll('.badge')]) if (b.id !== `badge-${variant.state}`) b.remove();
  if (variant.kind === 'app') {
    glyph.setAttribute('fill', '#ffffff');
    glyph.setAttribute('transform', 'translate(16 16.4) scale(0.66) translate(-16 -16)');
  } else {
    byId('app-background').remove();
    glyph.setAttribute('fill', variant.glyph);
    if (variant.glyphOpacity) glyph.setAttribute('opacity', String(variant.glyphOpacity));
  }
  const badge = byId(`badge-${variant.state}`);
  if (badge) badge.setAttribute(badge.getAttribute('fill') === 'none' ? 'stroke' : 'fill', variant.badge);
  else byId('cutout').remove();
  const text = new XMLSerializer().serializeToString(doc);
  return new Promise((resolve, reject) => {
    const img = new Image();
    img.onload = () => {
      const canvas = document.createElement('canvas');
      canvas.width = size;
      canvas.height = size;
      const ctx = canvas.getContext('2d');
      ctx.drawImage(img, 0, 0, size, size);
      const rgba = ctx.getImageData(0, 0, size, size).data;
      let bin = '';
      for (let i = 0; i < rgba.length; i++) bin += String.fromCharCode(rgba[i]);
      resolve({ png: canvas.toDataURL('image/png').slice('data:image/png;base64,'.length), rgba: btoa(bin) });
    };
    img.onerror = () => reject(new Error(`the SVG for ${JSON.stringify(variant)} did not load`));
    img.src = 'data:image/svg+xml;base64,' + btoa(text);
  });
}

/** ICO: a directory of images; 32-bit BMPs up to 64 px (every Windows reads those), PNG above. */
export function writeIco(images) {
  const header = Buffer.alloc(6 + 16 * images.length);
  header.writeUInt16LE(0, 0);
  header.writeUInt16LE(1, 2); // 1 = icon
  header.writeUInt16LE(images.length, 4);
  const bodies = [];
  let offset = header.length;
  images.forEach((img, i) => {
    const body = img.size > 64 ? img.png : dib(img.size, img.rgba);
    const e = 6 + 16 * i;
    header.writeUInt8(img.size >= 256 ? 0 : img.size, e); // 0 means 256
    header.writeUInt8(img.size >= 256 ? 0 : img.size, e + 1);
    header.writeUInt8(0, e + 2); // no palette
    header.writeUInt8(0, e + 3);
    header.writeUInt16LE(1, e + 4); // planes
    header.writeUInt16LE(32, e + 6); // bits per pixel
    header.writeUInt32LE(body.length, e + 8);
    header.writeUInt32LE(offset, e + 12);
    offset += body.length;
    bodies.push(body);
  });
  return Buffer.concat([header, ...bodies]);
}

/** A BITMAPINFOHEADER image as ICO wants it: BGRA rows bottom-up, then an all-zero AND mask. */
function dib(size, rgba) {
  const info = Buffer.alloc(40);
  info.writeUInt32LE(40, 0);
  info.writeInt32LE(size, 4);
  info.writeInt32LE(size * 2, 8); // XOR image + AND mask
  info.writeUInt16LE(1, 12);
  info.writeUInt16LE(32, 14);
  info.writeUInt32LE(0, 16); // BI_RGB
  const pixels = Buffer.alloc(size * size * 4);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const from = (y * size + x) * 4;
      const to = ((size - 1 - y) * size + x) * 4;
      pixels[to] = rgba[from + 2];
      pixels[to + 1] = rgba[from + 1];
      pixels[to + 2] = rgba[from];
      pixels[to + 3] = rgba[from + 3];
    }
  }
  const maskRow = Math.ceil(size / 32) * 4;
  info.writeUInt32LE(pixels.length + maskRow * size, 20);
  return Buffer.concat([info, pixels, Buffer.alloc(maskRow * size)]);
}

/** ICNS: 'icns', total length, then (type, length incl. its 8-byte header, PNG) elements. */
export function writeIcns(pngBySize) {
  const elements = ICNS_TYPES.map(([type, size]) => {
    const png = pngBySize.get(size);
    const head = Buffer.alloc(8);
    head.write(type, 0, 'latin1');
    head.writeUInt32BE(png.length + 8, 4);
    return Buffer.concat([head, png]);
  });
  const head = Buffer.alloc(8);
  head.write('icns', 0, 'latin1');
  head.writeUInt32BE(8 + elements.reduce((n, e) => n + e.length, 0), 4);
  return Buffer.concat([head, ...elements]);
}

async function main() {
  const outArg = process.argv.indexOf('--out');
  const out = outArg > 0 ? path.resolve(process.argv[outArg + 1]) : path.join(root, 'build');
  const source = fs.readFileSync(path.join(root, 'build', 'icons', 'source.svg'), 'utf8');
  const executablePath = process.env.PIM_CHROMIUM ?? '/usr/bin/chromium';
  if (!fs.existsSync(executablePath))
    throw new Error(`no Chromium at ${executablePath}: install chromium (apt) or set PIM_CHROMIUM`);
  const browser = await chromium.launch({
    executablePath,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'],
  });
  const written = [];
  try {
    const page = await browser.newPage();
    const render = async (variant, size) => {
      const r = await page.evaluate(renderInPage, { source, variant, size });
      return { size, png: Buffer.from(r.png, 'base64'), rgba: Buffer.from(r.rgba, 'base64') };
    };
    const save = (rel, data) => {
      const file = path.join(out, rel);
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, data);
      written.push(rel);
    };
    for (const state of STATES) {
      const colour = { kind: 'tray', state, ...COLOURS[state] };
      const template = { kind: 'tray', state, glyph: '#000000', badge: '#000000' };
      save(`icons/tray-${state}.png`, (await render(colour, 16)).png);
      save(`icons/tray-${state}@2x.png`, (await render(colour, 32)).png);
      save(`icons/tray-${state}Template.png`, (await render(template, 16)).png);
      save(`icons/tray-${state}Template@2x.png`, (await render(template, 32)).png);
      const ico = [];
      for (const size of TRAY_ICO_SIZES) ico.push(await render(colour, size));
      save(`icons/tray-${state}.ico`, writeIco(ico));
    }
    const app = { kind: 'app', state: 'app' };
    const appPng = new Map();
    for (const size of APP_PNG_SIZES) appPng.set(size, await render(app, size));
    for (const size of [256, 512, 1024]) save(`app/${size}x${size}.png`, appPng.get(size).png);
    save('app/icon.ico', writeIco(APP_ICO_SIZES.map((s) => appPng.get(s))));
    save('app/icon.icns', writeIcns(new Map([...appPng].map(([s, r]) => [s, r.png]))));
  } finally {
    await browser.close();
  }
  process.stderr.write(`icons: ${written.length} files under ${path.relative(process.cwd(), out) || '.'}\n`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((e) => {
    process.stderr.write(`icons: ${e.message}\n`);
    process.exit(1);
  });
}
