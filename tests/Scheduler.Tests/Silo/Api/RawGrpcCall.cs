using System.Buffers.Binary;
using System.Net.Sockets;
using System.Text;
using Google.Protobuf;

namespace Scheduler.Tests.Silo.Api;

/// <summary>
/// A gRPC call written frame by frame on a socket of its own (HTTP/2 with prior knowledge, as a cleartext gRPC client
/// speaks it), for what Grpc.Net.Client cannot send: each metadata entry as a header field of its own — what grpcio,
/// grpc-go (grpcurl) and Postman send for a name given twice, where HttpClient joins a header's values into one field —
/// and a request message sent in parts, left half sent, or given up mid-message with its stream reset. Only what these
/// tests need: one call per connection, at most 64 KB sent (HTTP/2's initial flow-control windows), and the answer's
/// header fields read back from HPACK blocks that a decoder with no dynamic table can read (the silo's encoder gets a
/// table size of 0, and .NET never Huffman-codes).
/// </summary>
internal sealed class RawGrpcCall : IAsyncDisposable
{
    private const byte Data = 0, Headers = 1, RstStream = 3, Settings = 4, GoAway = 7, Continuation = 9;
    private const byte EndStream = 1, EndHeaders = 4, Ack = 1;
    private const uint Call = 1;

    // SETTINGS_MAX_FRAME_SIZE's initial value: the largest DATA frame a peer takes before it says otherwise.
    private const int MaxFrame = 16384;

    private readonly TcpClient _tcp = new();
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromSeconds(20));
    private readonly List<(string Name, string Value)> _fields = [];
    private NetworkStream _stream = null!;
    private int _headerBlocks;
    private bool _ended;

    private RawGrpcCall()
    {
    }

    /// <summary>Calls <paramref name="method"/> ("/package.Service/Method") at <paramref name="address"/> with
    /// <paramref name="request"/> and <paramref name="metadata"/>; returns every header field of the answer (headers and
    /// trailers) by name, static-table names as "#index".</summary>
    public static async Task<IReadOnlyList<(string Name, string Value)>> Unary(
        string address, string method, IMessage request, IReadOnlyList<(string Name, string Value)> metadata)
    {
        await using var call = await Start(address, method, metadata);
        await call.Send(Framed(request), endStream: true);
        return await call.Answer();
    }

    /// <summary>Opens a connection and sends the call's headers; its request stream stays open for <see cref="Send"/>.</summary>
    public static async Task<RawGrpcCall> Start(string address, string method, IReadOnlyList<(string Name, string Value)> metadata)
    {
        var uri = new Uri(address);
        var call = new RawGrpcCall();
        await call._tcp.ConnectAsync(uri.Host, uri.Port);
        call._stream = call._tcp.GetStream();

        // The preface and SETTINGS_HEADER_TABLE_SIZE = 0, so the answer never refers to a dynamic table.
        await call._stream.WriteAsync(Encoding.ASCII.GetBytes("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), call._timeout.Token);
        await call.WriteFrame(Settings, 0, 0, [0, 1, 0, 0, 0, 0]);

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

        await call.WriteFrame(Headers, EndHeaders, Call, [.. block]);
        return call;
    }

    /// <summary><paramref name="message"/> as a gRPC request stream carries it: uncompressed, after its 5-byte header.</summary>
    public static byte[] Framed(IMessage message)
    {
        var framed = new byte[5 + message.CalculateSize()];
        BinaryPrimitives.WriteUInt32BigEndian(framed.AsSpan(1), (uint)(framed.Length - 5));
        message.WriteTo(framed.AsSpan(5));
        return framed;
    }

    /// <summary>Sends <paramref name="bytes"/> of the request stream, ending it after them when <paramref name="endStream"/>.</summary>
    public async Task Send(ReadOnlyMemory<byte> bytes, bool endStream)
    {
        do
        {
            var frame = bytes[..Math.Min(bytes.Length, MaxFrame)];
            bytes = bytes[frame.Length..];
            await WriteFrame(Data, endStream && bytes.IsEmpty ? EndStream : (byte)0, Call, frame.ToArray());
        }
        while (!bytes.IsEmpty);
    }

    /// <summary>Gives the call up as a client does: its stream reset (RST_STREAM, CANCEL), the connection left open.</summary>
    public Task Reset() => WriteFrame(RstStream, 0, Call, [0, 0, 0, 8]);

    /// <summary>Reads until the answer's headers have come (a trailers-only answer's are all of it); every field so far.</summary>
    public Task<IReadOnlyList<(string Name, string Value)>> Head() => ReadUntil(() => _headerBlocks > 0);

    /// <summary>Reads until the answer ends; every field of its headers and trailers.</summary>
    public Task<IReadOnlyList<(string Name, string Value)>> Answer() => ReadUntil(() => _ended);

    public async ValueTask DisposeAsync()
    {
        await _stream.DisposeAsync();
        _tcp.Dispose();
        _timeout.Dispose();
    }

    private async Task<IReadOnlyList<(string Name, string Value)>> ReadUntil(Func<bool> done)
    {
        while (!done())
        {
            var header = new byte[9];
            await _stream.ReadExactlyAsync(header, _timeout.Token);
            var length = (header[0] << 16) | (header[1] << 8) | header[2];
            var (type, flags) = (header[3], header[4]);
            var streamId = BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(5)) & 0x7FFF_FFFF;
            var payload = new byte[length];
            await _stream.ReadExactlyAsync(payload, _timeout.Token);
            if (type == Settings && (flags & Ack) == 0)
            {
                await WriteFrame(Settings, Ack, 0, []);
            }
            else if (type is Headers or Continuation && streamId == Call)
            {
                Decode(payload, _fields);
                _headerBlocks += (flags & EndHeaders) != 0 ? 1 : 0;
            }
            else if (type == GoAway || (type == RstStream && streamId == Call && !_ended))
            {
                throw new InvalidOperationException($"{(type == GoAway ? "GOAWAY" : "RST_STREAM")} before the answer ended: {Convert.ToHexString(payload)}");
            }

            _ended |= streamId == Call && type is Headers or Data && (flags & EndStream) != 0;
        }

        return _fields;
    }

    private async Task WriteFrame(byte type, byte flags, uint streamId, byte[] payload)
    {
        var frame = new byte[9 + payload.Length];
        frame[0] = (byte)(payload.Length >> 16);
        frame[1] = (byte)(payload.Length >> 8);
        frame[2] = (byte)payload.Length;
        frame[3] = type;
        frame[4] = flags;
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(5), streamId);
        payload.CopyTo(frame, 9);
        await _stream.WriteAsync(frame, _timeout.Token);
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
