/**
 * The JSON shapes of etcd's v3 gateway and the conversions to ours. The gateway speaks protobuf's JSON mapping:
 * byte fields (keys, values) are base64, 64-bit integers (revisions, lease ids) are decimal strings, and fields
 * with their default value (0, false, an empty list, PUT as an event type) are left out.
 */

/** One key as we use it: text key and value, revisions as numbers (etcd's stay far below 2^53). */
export interface EtcdKv {
  readonly key: string
  readonly value: string
  readonly createRevision: number
  readonly modRevision: number
  /** The lease the key is bound to ("0" or absent: none). */
  readonly lease: string | undefined
}

/** A watch event: a put carries the new value; a delete only the key and the revision of the deletion. */
export interface EtcdEvent {
  readonly type: 'put' | 'delete'
  readonly kv: EtcdKv
}

export interface RawKv {
  key?: string
  value?: string
  create_revision?: string
  mod_revision?: string
  lease?: string
}

export interface RawHeader {
  revision?: string
}

export function encode(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64')
}

export function decode(data: string | undefined): string {
  return data === undefined ? '' : Buffer.from(data, 'base64').toString('utf8')
}

/** etcd's way to say "every key starting with prefix": the range ends at the prefix with its last byte + 1. */
export function prefixEnd(prefix: string): string {
  const bytes = Buffer.from(prefix, 'utf8')
  for (let i = bytes.length - 1; i >= 0; i--) {
    if (bytes[i]! < 0xff) {
      const end = bytes.subarray(0, i + 1)
      end[i] = bytes[i]! + 1
      return end.toString('base64')
    }
  }
  // Only 0xff bytes: "\0" means "to the end of the key space".
  return Buffer.from([0]).toString('base64')
}

export function toNumber(value: string | number | undefined): number {
  return value === undefined ? 0 : Number(value)
}

export function parseKv(raw: RawKv): EtcdKv {
  return {
    key: decode(raw.key),
    value: decode(raw.value),
    createRevision: toNumber(raw.create_revision),
    modRevision: toNumber(raw.mod_revision),
    lease: raw.lease === undefined || raw.lease === '0' ? undefined : raw.lease,
  }
}

export function revisionOf(header: RawHeader | undefined): number {
  return toNumber(header?.revision)
}
