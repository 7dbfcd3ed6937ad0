/**
 * Child process for the benchmark floors: a bare gRPC bidirectional-stream
 * echo server and a raw TCP sink. Prints `{"grpc":port,"tcp":port}` on stdout,
 * exits when stdin closes.
 */
import net from 'node:net';
import * as grpc from '@grpc/grpc-js';

const identity = (b: Buffer) => b;
const server = new grpc.Server({ 'grpc.max_receive_message_length': -1, 'grpc.max_send_message_length': -1 });
server.addService(
  {
    echo: { path: '/bench.Echo/Echo', requestStream: true, responseStream: true, requestSerialize: identity, requestDeserialize: identity, responseSerialize: identity, responseDeserialize: identity },
  } as grpc.ServiceDefinition,
  {
    echo: (call: grpc.ServerDuplexStream<Buffer, Buffer>) => {
      call.on('data', (b: Buffer) => call.write(b));
      call.on('end', () => call.end());
      call.on('error', () => {});
    },
  },
);
// TCP source: on each 8-byte request (a length), writes that many bytes in 4 MiB writes.
const chunk = Buffer.alloc(4 << 20, 1);
const tcp = net.createServer((sock) => {
  sock.setNoDelay(true);
  let head = Buffer.alloc(0);
  sock.on('data', async (d: Buffer) => {
    head = Buffer.concat([head, d]);
    while (head.length >= 8) {
      let left = head.readUInt32LE(0) + head.readUInt32LE(4) * 2 ** 32;
      head = head.subarray(8);
      while (left > 0) {
        const n = Math.min(left, chunk.length);
        left -= n;
        if (!sock.write(n === chunk.length ? chunk : chunk.subarray(0, n))) await new Promise((r) => sock.once('drain', r));
      }
    }
  });
  sock.on('error', () => {});
});
server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, grpcPort) => {
  if (err) throw err;
  tcp.listen(0, '127.0.0.1', () => {
    process.stdout.write(JSON.stringify({ grpc: grpcPort, tcp: (tcp.address() as net.AddressInfo).port }) + '\n');
  });
});
process.stdin.on('end', () => process.exit(0));
process.stdin.on('close', () => process.exit(0));
process.stdin.resume();
