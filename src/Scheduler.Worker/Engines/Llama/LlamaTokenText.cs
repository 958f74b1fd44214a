using System.Buffers;
using System.Text.Unicode;
using LLama.Native;

namespace Scheduler.Worker.Engines.Llama;

/// <summary>
/// One sequence's tokens turned into text as they come: the bytes of each token's piece (llama.cpp's
/// <c>llama_token_to_piece</c>; control tokens render as nothing) decoded as UTF-8, the bytes of a character split across
/// tokens held until the token completing it (<see cref="Incomplete"/>), and what is still held decoded at the sequence's
/// end (<see cref="Flush"/>). Invalid bytes decode to U+FFFD, as <see cref="System.Text.Encoding.UTF8"/> decodes them.
/// </summary>
/// <remarks>LLamaSharp's <c>StreamingTokenDecoder</c> holds such bytes too but can neither say it holds any nor flush
/// them: a character the last token left unfinished was dropped, and a token whose bytes ended mid-character went out
/// as an empty text, so a job handed back there resumed from a text without that character's first bytes.</remarks>
internal sealed class LlamaTokenText(SafeLlamaModelHandle model)
{
    // The bytes of an unfinished character, then the next token's piece while it is decoded.
    private byte[] _bytes = new byte[32];
    private int _held;

    /// <summary>True while the tokens so far end in the middle of a character.</summary>
    public bool Incomplete => _held > 0;

    /// <summary>Adds <paramref name="token"/>; returns the characters it completes (empty while one is unfinished).</summary>
    public string Add(LLamaToken token)
    {
        var length = (int)model.TokenToSpan(token, _bytes.AsSpan(_held), lstrip: 0, special: false);
        if (_held + length > _bytes.Length)
        {
            // llama.cpp said how long the piece is without writing it: room for it, then again.
            Array.Resize(ref _bytes, _held + length);
            model.TokenToSpan(token, _bytes.AsSpan(_held), lstrip: 0, special: false);
        }

        return Decode(_held + length, isFinalBlock: false);
    }

    /// <summary>The held bytes of an unfinished character, decoded as the end of the text (U+FFFD), or empty.</summary>
    public string Flush() => Decode(_held, isFinalBlock: true);

    private string Decode(int count, bool isFinalBlock)
    {
        // A byte decodes to at most one character (a four-byte sequence to two).
        var chars = ArrayPool<char>.Shared.Rent(Math.Max(count, 1));
        try
        {
            Utf8.ToUtf16(_bytes.AsSpan(0, count), chars, out var read, out var written, replaceInvalidSequences: true, isFinalBlock);
            _held = count - read;
            _bytes.AsSpan(read, _held).CopyTo(_bytes);
            return new string(chars, 0, written);
        }
        finally
        {
            ArrayPool<char>.Shared.Return(chars);
        }
    }
}
