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
// TCP sink: reads `len` bytes per transfer into reused buffers and acks with one byte.
const tcp = net.createServer((sock) => {
  let want = -1;
  let got = 0;
  let head = Buffer.alloc(0);
  sock.on('data', (d: Buffer) => {
    let off = 0;
    while (off < d.length) {
      if (want < 0) {
        const need = 8 - head.length;
        head = Buffer.concat([head, d.subarray(off, off + need)]);
        off += Math.min(need, d.length - off);
        if (head.length === 8) {
          want = head.readUInt32LE(0) + head.readUInt32LE(4) * 2 ** 32;
          got = 0;
          head = Buffer.alloc(0);
        }
        continue;
      }
      const take = Math.min(want - got, d.length - off);
      got += take;
      off += take;
      if (got === want) {
        want = -1;
        sock.write(Buffer.from([1]));
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
