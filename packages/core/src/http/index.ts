/** HTTP probing and what it is judged by: requests (undici, loaded on first use), bodies, expectations. */
export { MAX_REQUEST_BODY_BYTES, requestBody, type RequestBodySpec } from './body.js';
export {
  excerpt,
  judgeResponse,
  jsonMismatches,
  parseJsonAssertion,
  type JsonAssertion,
  type ResponseExpectations,
} from './expectations.js';
export {
  httpRequest,
  type HttpOutcome,
  type HttpRequestOptions,
  type HttpResponse,
  type RequestBody,
} from './request.js';
