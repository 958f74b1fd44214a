using System.Buffers.Binary;
using System.Net.Sockets;
using System.Text;
using Google.Protobuf;

namespace Scheduler.Tests.Silo.Api;

/// <summary>
/// A unary gRPC call written frame by frame on a socket (HTTP/2 with prior knowledge, as a cleartext gRPC client
/// speaks it), with each of its metadata entries as a header field of its own — what grpcio, grpc-go (grpcurl) and
/// Postman send for a name given twice. Grpc.Net.Client cannot: HttpClient joins a header's values into one field.
/// Only what these tests need: one call, and the answer's header fields read back from HPACK blocks that a decoder
/// with no dynamic table can read (the silo's encoder gets a table size of 0, and .NET never Huffman-codes).
/// </summary>
internal static class RawGrpcCall
{
    private const byte Data = 0, Headers = 1, Settings = 4, GoAway = 7, Continuation = 9;
    private const byte EndStream = 1, EndHeaders = 4, Ack = 1;

    /// <summary>Calls <paramref name="method"/> ("/package.Service/Method") at <paramref name="address"/> with
    /// <paramref name="request"/> and <paramref name="metadata"/>; returns every header field of the answer (headers and
    /// trailers) by name, static-table names as "#index".</summary>
    public static async Task<IReadOnlyList<(string Name, string Value)>> Unary(
        string address, string method, IMessage request, IReadOnlyList<(string Name, string Value)> metadata)
    {
        var uri = new Uri(address);
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(uri.Host, uri.Port);
        await using var stream = tcp.GetStream();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));

        // The preface and SETTINGS_HEADER_TABLE_SIZE = 0, so the answer never refers to a dynamic table.
        await stream.WriteAsync(Encoding.ASCII.GetBytes("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), timeout.Token);
        await WriteFrame(stream, Settings, 0, 0, [0, 1, 0, 0, 0, 0], timeout.Token);

        var block = new List<byte>();
        foreach (var (name, value) in (IEnumerable<(string, string)>)
                 [(":method", "POST"), (":scheme", "http"), (":path", method), (":authority", uri.Authority),
                  ("content-type", "application/grpc"), ("te", "trailers"), .. metadata])
        {
            // Literal header field without indexing, new name (RFC 7541, 6.2.2).
            block.Add(0);
            WriteString(block, name);
            WriteString(block, value);
        }

        await WriteFrame(stream, Headers, EndHeaders, 1, [.. block], timeout.Token);
        var message = request.ToByteArray();
        var framed = new byte[5 + message.Length];
        BinaryPrimitives.WriteUInt32BigEndian(framed.AsSpan(1), (uint)message.Length);
        message.CopyTo(framed, 5);
        await WriteFrame(stream, Data, EndStream, 1, framed, timeout.Token);

        var fields = new List<(string, string)>();
        while (true)
        {
            var header = new byte[9];
            await stream.ReadExactlyAsync(header, timeout.Token);
            var length = (header[0] << 16) | (header[1] << 8) | header[2];
            var (type, flags) = (header[3], header[4]);
            var streamId = BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(5)) & 0x7FFF_FFFF;
            var payload = new byte[length];
            await stream.ReadExactlyAsync(payload, timeout.Token);
            if (type == Settings && (flags & Ack) == 0)
            {
                await WriteFrame(stream, Settings, Ack, 0, [], timeout.Token);
            }
            else if (type is Headers or Continuation && streamId == 1)
            {
                Decode(payload, fields);
            }
            else if (type == GoAway)
            {
                throw new InvalidOperationException($"GOAWAY before the answer ended: {Convert.ToHexString(payload)}");
            }

            if (streamId == 1 && type is Headers or Data && (flags & EndStream) != 0)
            {
                return fields;
            }
        }
    }

    private static async Task WriteFrame(NetworkStream stream, byte type, byte flags, uint streamId, byte[] payload, CancellationToken cancel)
    {
        var frame = new byte[9 + payload.Length];
        frame[0] = (byte)(payload.Length >> 16);
        frame[1] = (byte)(payload.Length >> 8);
        frame[2] = (byte)payload.Length;
        frame[3] = type;
        frame[4] = flags;
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(5), streamId);
        payload.CopyTo(frame, 9);
        await stream.WriteAsync(frame, cancel);
    }

    private static void WriteString(List<byte> block, string text)
    {
        var bytes = Encoding.ASCII.GetBytes(text);
        WriteInteger(block, 0, 7, bytes.Length);
        block.AddRange(bytes);
    }

    // RFC 7541, 5.1: the value in the prefix's low bits, or the prefix full and the rest in 7-bit groups.
    private static void WriteInteger(List<byte> block, byte high, int bits, int value)
    {
        var max = (1 << bits) - 1;
        if (value < max)
        {
            block.Add((byte)(high | value));
            return;
        }

        block.Add((byte)(high | max));
        for (value -= max; value >= 128; value >>= 7)
        {
            block.Add((byte)((value & 127) | 128));
        }

        block.Add((byte)value);
    }

    private static int ReadInteger(byte[] block, ref int at, int bits)
    {
        var max = (1 << bits) - 1;
        var value = block[at++] & max;
        if (value < max)
        {
            return value;
        }

        for (var shift = 0; ; shift += 7)
        {
            var next = block[at++];
            value += (next & 127) << shift;
            if (next < 128)
            {
                return value;
            }
        }
    }

    private static string ReadString(byte[] block, ref int at)
    {
        if ((block[at] & 0x80) != 0)
        {
            throw new NotSupportedException("a Huffman-coded string");
        }

        var length = ReadInteger(block, ref at, 7);
        var text = Encoding.ASCII.GetString(block, at, length);
        at += length;
        return text;
    }

    private static void Decode(byte[] block, List<(string, string)> fields)
    {
        for (var at = 0; at < block.Length;)
        {
            var first = block[at];
            if ((first & 0x80) != 0)
            {
                // An indexed field: with no dynamic table, one of the static table's (":status: 200").
                fields.Add(("#" + ReadInteger(block, ref at, 7), ""));
            }
            else if ((first & 0xE0) == 0x20)
            {
                ReadInteger(block, ref at, 5); // a dynamic table size update
            }
            else
            {
                // A literal: with incremental indexing (01), without (0000) or never indexed (0001).
                var index = ReadInteger(block, ref at, (first & 0x40) != 0 ? 6 : 4);
                var name = index == 0 ? ReadString(block, ref at) : "#" + index;
                fields.Add((name, ReadString(block, ref at)));
            }
        }
    }
}
