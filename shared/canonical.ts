// Canonical JSON (RFC 8785, JCS) for everything that is hashed or signed: same value, same bytes,
// on every machine. `canonicalize` does the serialisation; the walk below refuses values JSON
// cannot represent (it would otherwise emit `undefined` inside objects for functions, or recurse
// forever on cycles).
import canonicalize from 'canonicalize';

export function canonicalJson(value: unknown): string {
  assertJsonable(value, new Set(), '$');
  const out = canonicalize(value);
  if (out === undefined) throw new Error('canonicalJson: value has no JSON representation');
  return out;
}

function assertJsonable(v: unknown, stack: Set<object>, path: string): void {
  switch (typeof v) {
    case 'function':
    case 'symbol':
    case 'bigint':
      throw new Error(`canonicalJson: ${path} is a ${typeof v}, which JSON cannot represent`);
    case 'number':
      if (!Number.isFinite(v)) throw new Error(`canonicalJson: ${path} is ${v}, which JSON cannot represent`);
      return;
    case 'object': {
      if (v === null) return;
      if (stack.has(v)) throw new Error(`canonicalJson: ${path} refers back to itself (cycle)`);
      if (typeof (v as { toJSON?: unknown }).toJSON === 'function') return; // e.g. Date
      stack.add(v);
      if (Array.isArray(v)) v.forEach((x, i) => x !== undefined && assertJsonable(x, stack, `${path}[${i}]`));
      else for (const [k, x] of Object.entries(v)) if (x !== undefined) assertJsonable(x, stack, `${path}.${k}`);
      stack.delete(v);
      return;
    }
    default:
      return;
  }
}
