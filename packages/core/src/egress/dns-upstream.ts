import { randomInt } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import { isIP } from 'node:net';
import dnsPacket, { type Packet, type Question } from 'dns-packet';
import { normalizeName } from './dns-policy.js';

/** How long one server gets to answer (then the next is asked). */
const SERVER_TIMEOUT_MS = 2_000;
/** The UDP payload size the forwarder offers upstream (EDNS0; 1232 avoids fragmentation). */
const UDP_PAYLOAD = 1232;

function upstreamQuery(question: Question, id: number): Buffer {
  return dnsPacket.encode({
    type: 'query',
    id,
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ type: question.type, class: question.class ?? 'IN', name: question.name }],
    additionals: [{ type: 'OPT', name: '.', udpPayloadSize: UDP_PAYLOAD } as never],
  });
}

/** A response is the answer to our query only with our id and our question (a spoofed one is dropped). */
function matches(response: Packet, id: number, question: Question): boolean {
  const asked = response.questions?.[0];
  return (
    response.type === 'response' &&
    response.id === id &&
    response.questions?.length === 1 &&
    asked !== undefined &&
    asked.type === question.type &&
    normalizeName(asked.name) === normalizeName(question.name)
  );
}

function decodeOrUndefined(buffer: Buffer): Packet | undefined {
  try {
    return dnsPacket.decode(buffer);
  } catch {
    return undefined;
  }
}

function overUdp(server: string, question: Question): Promise<Packet> {
  const id = randomInt(0, 65536);
  const socket = createSocket(isIP(server) === 6 ? 'udp6' : 'udp4');
  return new Promise<Packet>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${server} did not answer within ${SERVER_TIMEOUT_MS}ms`)),
      SERVER_TIMEOUT_MS,
    );
    socket.on('error', reject);
    socket.on('message', (message, from) => {
      if (from.address !== server || from.port !== 53) return;
      const response = decodeOrUndefined(message);
      if (!response || !matches(response, id, question)) return;
      clearTimeout(timer);
      resolve(response);
    });
    socket.send(upstreamQuery(question, id), 53, server);
  }).finally(() => socket.close());
}

function overTcp(server: string, question: Question): Promise<Packet> {
  const id = randomInt(0, 65536);
  return new Promise<Packet>((resolve, reject) => {
    const socket = connect({ host: server, port: 53 });
    const chunks: Buffer[] = [];
    socket.setTimeout(SERVER_TIMEOUT_MS, () => socket.destroy(new Error(`${server} did not answer over TCP`)));
    socket.on('error', reject);
    const query = upstreamQuery(question, id);
    const length = Buffer.alloc(2);
    length.writeUInt16BE(query.length);
    socket.on('connect', () => socket.write(Buffer.concat([length, query])));
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      const data = Buffer.concat(chunks);
      if (data.length < 2 || data.length < 2 + data.readUInt16BE(0)) return;
      const response = decodeOrUndefined(data.subarray(2, 2 + data.readUInt16BE(0)));
      socket.destroy();
      if (response && matches(response, id, question)) resolve(response);
      else reject(new Error(`${server} sent a response over TCP that does not answer the query`));
    });
    socket.on('close', () => reject(new Error(`${server} closed the TCP connection without an answer`)));
  });
}

/** Asks the upstream servers in turn (UDP, then TCP when the answer was truncated); the first answer wins. */
export async function askUpstream(servers: readonly string[], question: Question): Promise<Packet> {
  const problems: string[] = [];
  for (const server of servers) {
    try {
      const response = await overUdp(server, question);
      const truncated = ((response.flags ?? 0) & dnsPacket.TRUNCATED_RESPONSE) !== 0;
      return truncated ? await overTcp(server, question) : response;
    } catch (error) {
      problems.push((error as Error).message);
    }
  }
  throw new Error(`no upstream resolver answered (${problems.join('; ') || 'none configured'})`);
}
