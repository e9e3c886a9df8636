/** Reads an exported image (`docker save`): its layers, their bytes, and the bytes later layers overwrite or delete. */
import tar from 'tar-stream';
import { Readable } from 'node:stream';

export interface LayerInfo {
  /** The layer's diff id (sha256 of its uncompressed tar). */
  readonly diffId: string;
  /** Bytes of the regular files in the layer. */
  readonly bytes: number;
  readonly files: number;
}

export interface ImageAnalysis {
  readonly layers: readonly LayerInfo[];
  /** Bytes of all layers' files. */
  readonly bytes: number;
  /** Bytes of files that a later layer overwrote or deleted: shipped, never seen. */
  readonly wastedBytes: number;
  /** The largest wasted paths, for the report. */
  readonly wasted: readonly { path: string; bytes: number }[];
}

type LayerFiles = Map<string, number>;

function readEntries(
  stream: NodeJS.ReadableStream,
  onEntry: (name: string, size: number, type: string, body: NodeJS.ReadableStream) => Promise<void>,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const ex = tar.extract();
    ex.on('entry', (header, body, next) => {
      onEntry(header.name, header.size ?? 0, header.type ?? 'file', body)
        .then(() => next())
        .catch(reject);
    });
    ex.on('finish', resolve);
    ex.on('error', reject);
    stream.on('error', reject);
    stream.pipe(ex);
  });
}

async function collect(body: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of body as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks);
}

async function drain(body: NodeJS.ReadableStream): Promise<void> {
  for await (const _ of body as AsyncIterable<Buffer>) void _;
}

/** The regular files of one layer tar (path -> size), and its whiteouts. */
async function layerFiles(
  body: NodeJS.ReadableStream,
): Promise<{ files: LayerFiles; whiteouts: string[]; opaque: string[] }> {
  const files: LayerFiles = new Map();
  const whiteouts: string[] = [];
  const opaque: string[] = [];
  await readEntries(body, async (name, size, type, b) => {
    const path = name.replace(/^\.\//, '').replace(/\/$/, '');
    const base = path.split('/').pop()!;
    const dir = path.slice(0, path.length - base.length).replace(/\/$/, '');
    if (base === '.wh..wh..opq') opaque.push(dir);
    else if (base.startsWith('.wh.')) whiteouts.push(dir ? `${dir}/${base.slice(4)}` : base.slice(4));
    else if (type === 'file' || type === 'contiguous-file') files.set(path, size);
    await drain(b);
  });
  return { files, whiteouts, opaque };
}

/**
 * Analyzes the tar of `docker save` for one image: layers in order, each file's latest version counted
 * once; earlier versions of overwritten or deleted files are the wasted bytes.
 */
export async function analyzeSavedImage(saved: NodeJS.ReadableStream): Promise<ImageAnalysis> {
  const layerTars = new Map<string, { files: LayerFiles; whiteouts: string[]; opaque: string[] }>();
  const jsons = new Map<string, Buffer>();
  await readEntries(saved, async (name, _size, _type, body) => {
    if (name.endsWith('.tar') || name.startsWith('blobs/sha256/')) {
      // In the OCI layout a blob may be a layer or a JSON document: sniff it.
      const buf = await collect(body);
      if (buf.length > 0 && buf[0] === 0x7b) jsons.set(name, buf);
      else if (buf.length >= 512) layerTars.set(name, await layerFiles(Readable.from([buf])));
    } else if (name.endsWith('.json')) jsons.set(name, await collect(body));
    else await drain(body);
  });
  const manifest = JSON.parse(jsons.get('manifest.json')!.toString()) as { Config: string; Layers: string[] }[];
  const m = manifest[0]!;
  const config = JSON.parse(jsons.get(m.Config)!.toString()) as { rootfs: { diff_ids: string[] } };
  const live = new Map<string, number>();
  let wastedBytes = 0;
  const wasted: { path: string; bytes: number }[] = [];
  const waste = (path: string, bytes: number) => {
    wastedBytes += bytes;
    if (bytes > 0) wasted.push({ path, bytes });
  };
  const layers: LayerInfo[] = m.Layers.map((name, i) => {
    const l = layerTars.get(name)!;
    for (const dir of l.opaque)
      for (const [p, size] of live)
        if (p.startsWith(`${dir}/`)) {
          waste(p, size);
          live.delete(p);
        }
    for (const w of l.whiteouts)
      for (const [p, size] of live)
        if (p === w || p.startsWith(`${w}/`)) {
          waste(p, size);
          live.delete(p);
        }
    let bytes = 0;
    for (const [p, size] of l.files) {
      const before = live.get(p);
      if (before !== undefined) waste(p, before);
      live.set(p, size);
      bytes += size;
    }
    return { diffId: config.rootfs.diff_ids[i]!, bytes, files: l.files.size };
  });
  wasted.sort((a, b) => b.bytes - a.bytes || (a.path < b.path ? -1 : 1));
  return { layers, bytes: layers.reduce((n, l) => n + l.bytes, 0), wastedBytes, wasted: wasted.slice(0, 10) };
}

/** Bytes shared across images: the sum of their sizes against the bytes of their distinct layers. */
export function sharing(images: readonly ImageAnalysis[]): { sumBytes: number; uniqueBytes: number; ratio: number } {
  const distinct = new Map<string, number>();
  for (const i of images) for (const l of i.layers) distinct.set(l.diffId, l.bytes);
  const sumBytes = images.reduce((n, i) => n + i.bytes, 0);
  const uniqueBytes = [...distinct.values()].reduce((n, b) => n + b, 0);
  return { sumBytes, uniqueBytes, ratio: sumBytes === 0 ? 0 : uniqueBytes / sumBytes };
}
