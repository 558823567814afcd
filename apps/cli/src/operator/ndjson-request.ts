import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { PowernodeError } from '@powernode/contracts';
import { platformRefusal, type PlatformTarget } from './platform-api.js';

/*
 * A REST call whose answer streams as newline-delimited JSON. Node's fetch gives up on an answer after 300 s
 * (undici's header and body timeouts); a streamed command may run longer and stay silent for minutes, so this
 * speaks node:http, which waits as long as the connection lives: the operation's own timeout governs.
 */

/**
 * POSTs `body` to `route` under /api/v1/system asking for `mediaType`, and hands each line, parsed, to
 * `onLine`, which may return a promise to hold the next line back (backpressure). Resolves when the answer
 * ends; a refusal (a problem+json answer) is thrown as a PowernodeError with its code.
 */
export async function postForLines(
  target: PlatformTarget,
  route: string,
  body: unknown,
  mediaType: string,
  onLine: (line: unknown) => void | Promise<void>,
): Promise<void> {
  const url = new URL(`${target.url}/api/v1/system${route}`);
  const payload = Buffer.from(JSON.stringify(body));
  const res = await new Promise<IncomingMessage>((resolve, reject) => {
    const req = (url.protocol === 'https:' ? httpsRequest : httpRequest)(url, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${target.token}`,
        'content-type': 'application/json',
        'content-length': payload.length,
        accept: `${mediaType}, application/problem+json`,
      },
    });
    req.once('response', resolve);
    req.once('error', (cause) =>
      reject(new PowernodeError('rpc_no_responder', `cannot reach the platform at ${target.url}: start it with npm start or set POWERNODE_URL`, { cause })),
    );
    req.end(payload);
  });
  res.setEncoding('utf8');
  if (res.statusCode !== 200) throw await refusal(res);
  let pending = '';
  for await (const text of res as AsyncIterable<string>) {
    pending += text;
    let newline: number;
    while ((newline = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, newline);
      pending = pending.slice(newline + 1);
      if (line.trim() !== '') await onLine(JSON.parse(line));
    }
  }
  if (pending.trim() !== '') await onLine(JSON.parse(pending));
}

async function refusal(res: IncomingMessage): Promise<PowernodeError> {
  let text = '';
  for await (const chunk of res as AsyncIterable<string>) text += chunk;
  return platformRefusal(res.statusCode, text);
}
