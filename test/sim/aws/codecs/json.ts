// awsJson1_0 / awsJson1_1 (X-Amz-Target) and restJson1 (Resource Explorer): JSON both ways.
// Timestamps: the JSON RPC services use epoch seconds; Resource Explorer's model marks its
// timestamps `date-time`, so the REST codec writes ISO-8601 (checked against the SDK schemas).
import type { SimError } from '../errors.js';

export function encodeJson(v: unknown, dates: 'epoch' | 'iso'): string {
  return JSON.stringify(v, function (this: Record<string, unknown>, key: string, value: unknown) {
    const raw = this[key];
    if (raw instanceof Date) return dates === 'epoch' ? raw.getTime() / 1000 : raw.toISOString();
    return value;
  });
}

export function decodeJson(body: string): Record<string, unknown> {
  if (!body.trim()) return {};
  const v = JSON.parse(body) as unknown;
  return typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : {};
}

/** Error body: `__type` names the exception; both `message` spellings, since models differ. */
export function encodeJsonError(err: SimError): string {
  return encodeJson({ __type: err.code, message: err.message, Message: err.message, ...err.fields }, 'epoch');
}
