import { isAbsolute, resolve } from 'node:path';
import { ArgumentError } from '../errors.js';
import { readRegularFile } from '../read-regular-file.js';
import type { RequestBody } from './request.js';

/** A smoke check's body is small: a JSON claim, a form. */
export const MAX_REQUEST_BODY_BYTES = 1 << 20;
const CONTENT_TYPE = /^[\w.+-]+\/[\w.+-]+(\s*;\s*[\w.+-]+=("[^"\r\n]*"|[\w.+-]+))*$/;

export interface RequestBodySpec {
  method: string;
  /** The body as written (inline). */
  body?: string;
  /** A file whose bytes are the body, relative to `workspace` unless absolute. */
  bodyFile?: string;
  contentType?: string;
}

/**
 * The body of a POST/PUT/PATCH smoke check, inline or read once from a file (the bytes read are the bytes sent),
 * with its Content-Type (default `application/json`). Undefined when there is none; a body for a method that
 * carries none, two sources, a missing or oversized file and a malformed Content-Type are argument errors.
 */
export async function requestBody(spec: RequestBodySpec, workspace: string): Promise<RequestBody | undefined> {
  const { method, body, bodyFile, contentType } = spec;
  if (body && bodyFile)
    throw new ArgumentError('body', 'is set and so is body-file; give the body inline or as a file, not both');
  if (!body && !bodyFile) {
    if (contentType) throw new ArgumentError('contentType', 'is set but there is no body (body or body-file)');
    return undefined;
  }
  const which = body ? 'body' : 'bodyFile';
  if (method === 'GET' || method === 'HEAD')
    throw new ArgumentError(which, `is set but method is ${method}, which sends no body; set method: POST (or PUT)`);
  if (contentType && !CONTENT_TYPE.test(contentType))
    throw new ArgumentError('contentType', `"${contentType}" is not a media type, e.g. application/json`);
  const data = body ? Buffer.from(body, 'utf8') : await readBodyFile(bodyFile!, workspace);
  if (data.length > MAX_REQUEST_BODY_BYTES)
    throw new ArgumentError(which, `is ${data.length} bytes; a smoke check's body may be at most 1 MiB`);
  return { data, contentType: contentType ?? 'application/json' };
}

async function readBodyFile(file: string, workspace: string): Promise<Buffer> {
  const path = isAbsolute(file) ? file : resolve(workspace, file);
  const read = await readRegularFile(path, MAX_REQUEST_BODY_BYTES);
  if ('data' in read) return read.data;
  const problem =
    read.problem === 'too large'
      ? `${path} is larger than 1 MiB; a smoke check's body may be at most 1 MiB`
      : read.problem === 'cannot open'
        ? `cannot read ${path} (${read.code}); give a file in the workspace, e.g. smoke/claim.json`
        : `${path} is ${read.problem === 'not a regular file' ? 'not a regular file' : 'changing (it changed while it was read)'}; give a file in the workspace, e.g. smoke/claim.json`;
  throw new ArgumentError('bodyFile', problem);
}
