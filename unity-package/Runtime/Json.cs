// A compact JSON reader/writer. Unity 2019's JsonUtility only maps JSON onto fixed
// [Serializable] types; the event stream and tool arguments are arbitrary JSON, so we
// parse into plain containers: objects -> Dictionary<string, object>, arrays -> List<object>,
// numbers -> double, strings -> string, true/false -> bool, null -> null.
using System;
using System.Collections;
using System.Collections.Generic;
using System.Globalization;
using System.Text;

namespace RealtimeVoice
{
    /// <summary>Thrown when text is not valid JSON (or a value cannot be written as JSON).</summary>
    public sealed class JsonException : FormatException
    {
        /// <summary>Character offset in the input where the problem was found (-1 when writing).</summary>
        public int Position { get; }

        /// <summary>Creates the exception.</summary>
        public JsonException(string message, int position)
            : base(position >= 0 ? message + " at offset " + position : message)
        {
            Position = position;
        }
    }

    /// <summary>Parse and serialize JSON without reflection-mapped types.</summary>
    public static class Json
    {
        /// <summary>Nesting deeper than this is rejected (keeps hostile input from overflowing the stack).</summary>
        public const int MaxDepth = 128;

        /// <summary>Parses one JSON value (whitespace around it allowed; anything else after it is an error).</summary>
        public static object Parse(string text)
        {
            if (text == null) throw new ArgumentNullException("text");
            var parser = new Parser(text);
            parser.SkipWhitespace();
            object value = parser.ParseValue(0);
            parser.SkipWhitespace();
            if (!parser.AtEnd) throw new JsonException("unexpected trailing characters", parser.Position);
            return value;
        }

        /// <summary>Parses text that must be a JSON object.</summary>
        public static Dictionary<string, object> ParseObject(string text)
        {
            var obj = Parse(text) as Dictionary<string, object>;
            if (obj == null) throw new JsonException("expected a JSON object", 0);
            return obj;
        }

        /// <summary>Like <see cref="Parse"/> but returns false instead of throwing on invalid JSON.</summary>
        public static bool TryParse(string text, out object value)
        {
            try
            {
                value = Parse(text);
                return true;
            }
            catch (JsonException)
            {
                value = null;
                return false;
            }
            catch (ArgumentNullException)
            {
                value = null;
                return false;
            }
        }

        /// <summary>
        /// Serializes strings, numbers, bools, null, enums (as their name), IDictionary with
        /// string keys, and IEnumerable. Non-finite numbers become null (JSON has no NaN).
        /// A value of type <see cref="JsonRaw"/> is written verbatim.
        /// </summary>
        public static string Serialize(object value)
        {
            var sb = new StringBuilder();
            Write(sb, value, 0);
            return sb.ToString();
        }

        /// <summary>Appends <paramref name="s"/> as a quoted, escaped JSON string.</summary>
        public static void WriteString(StringBuilder sb, string s)
        {
            sb.Append('"');
            for (int i = 0; i < s.Length; i++)
            {
                char c = s[i];
                switch (c)
                {
                    case '"': sb.Append("\\\""); break;
                    case '\\': sb.Append("\\\\"); break;
                    case '\n': sb.Append("\\n"); break;
                    case '\r': sb.Append("\\r"); break;
                    case '\t': sb.Append("\\t"); break;
                    case '\b': sb.Append("\\b"); break;
                    case '\f': sb.Append("\\f"); break;
                    default:
                        // Control characters must be escaped; U+2028/2029 are escaped too because
                        // they break JavaScript consumers of the same text.
                        if (c < 0x20 || c == '\u2028' || c == '\u2029')
                        {
                            sb.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                        }
                        else
                        {
                            sb.Append(c);
                        }
                        break;
                }
            }
            sb.Append('"');
        }

        /// <summary>Returns <paramref name="s"/> as a quoted, escaped JSON string.</summary>
        public static string Quote(string s)
        {
            var sb = new StringBuilder(s.Length + 2);
            WriteString(sb, s);
            return sb.ToString();
        }

        // ---- typed accessors for parsed objects (missing or mistyped -> fallback) ----

        /// <summary>The string at <paramref name="key"/>, or <paramref name="fallback"/>.</summary>
        public static string GetString(IDictionary<string, object> obj, string key, string fallback = null)
        {
            object v;
            if (obj != null && obj.TryGetValue(key, out v) && v is string) return (string)v;
            return fallback;
        }

        /// <summary>The number at <paramref name="key"/>, or <paramref name="fallback"/>.</summary>
        public static double GetNumber(IDictionary<string, object> obj, string key, double fallback = 0)
        {
            object v;
            if (obj != null && obj.TryGetValue(key, out v) && v is double) return (double)v;
            return fallback;
        }

        /// <summary>The bool at <paramref name="key"/>, or <paramref name="fallback"/>.</summary>
        public static bool GetBool(IDictionary<string, object> obj, string key, bool fallback = false)
        {
            object v;
            if (obj != null && obj.TryGetValue(key, out v) && v is bool) return (bool)v;
            return fallback;
        }

        /// <summary>The object at <paramref name="key"/>, or null.</summary>
        public static Dictionary<string, object> GetObject(IDictionary<string, object> obj, string key)
        {
            object v;
            if (obj != null && obj.TryGetValue(key, out v)) return v as Dictionary<string, object>;
            return null;
        }

        private static void Write(StringBuilder sb, object value, int depth)
        {
            if (depth > MaxDepth) throw new JsonException("value nested too deeply (or cyclic)", -1);
            if (value == null)
            {
                sb.Append("null");
                return;
            }
            var raw = value as JsonRaw;
            if (raw != null)
            {
                sb.Append(raw.Json);
                return;
            }
            var s = value as string;
            if (s != null)
            {
                WriteString(sb, s);
                return;
            }
            if (value is bool)
            {
                sb.Append((bool)value ? "true" : "false");
                return;
            }
            if (value is char)
            {
                WriteString(sb, value.ToString());
                return;
            }
            if (value is Enum)
            {
                WriteString(sb, value.ToString());
                return;
            }
            if (value is double || value is float || value is decimal)
            {
                double d = Convert.ToDouble(value, CultureInfo.InvariantCulture);
                if (double.IsNaN(d) || double.IsInfinity(d))
                {
                    sb.Append("null");
                }
                else if (value is float)
                {
                    // "R" of the float keeps 0.1f as 0.1 rather than 0.100000001490116.
                    sb.Append(((float)value).ToString("R", CultureInfo.InvariantCulture));
                }
                else
                {
                    sb.Append(d.ToString("R", CultureInfo.InvariantCulture));
                }
                return;
            }
            if (value is int || value is long || value is short || value is sbyte ||
                value is uint || value is ulong || value is ushort || value is byte)
            {
                sb.Append(Convert.ToString(value, CultureInfo.InvariantCulture));
                return;
            }
            var dict = value as IDictionary;
            if (dict != null)
            {
                sb.Append('{');
                bool first = true;
                foreach (DictionaryEntry entry in dict)
                {
                    var key = entry.Key as string;
                    if (key == null) throw new JsonException("object keys must be strings", -1);
                    if (!first) sb.Append(',');
                    first = false;
                    WriteString(sb, key);
                    sb.Append(':');
                    Write(sb, entry.Value, depth + 1);
                }
                sb.Append('}');
                return;
            }
            var list = value as IEnumerable;
            if (list != null)
            {
                sb.Append('[');
                bool first = true;
                foreach (object item in list)
                {
                    if (!first) sb.Append(',');
                    first = false;
                    Write(sb, item, depth + 1);
                }
                sb.Append(']');
                return;
            }
            throw new JsonException("cannot serialize a value of type " + value.GetType().FullName, -1);
        }

        private sealed class Parser
        {
            private readonly string _text;
            private int _pos;

            public Parser(string text)
            {
                _text = text;
            }

            public int Position { get { return _pos; } }
            public bool AtEnd { get { return _pos >= _text.Length; } }

            public void SkipWhitespace()
            {
                while (_pos < _text.Length)
                {
                    char c = _text[_pos];
                    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') _pos++;
                    else break;
                }
            }

            public object ParseValue(int depth)
            {
                if (depth > MaxDepth) throw new JsonException("nesting deeper than " + MaxDepth, _pos);
                if (AtEnd) throw new JsonException("unexpected end of input", _pos);
                char c = _text[_pos];
                switch (c)
                {
                    case '{': return ParseObject(depth);
                    case '[': return ParseArray(depth);
                    case '"': return ParseString();
                    case 't': Expect("true"); return true;
                    case 'f': Expect("false"); return false;
                    case 'n': Expect("null"); return null;
                    default:
                        if (c == '-' || (c >= '0' && c <= '9')) return ParseNumber();
                        throw new JsonException("unexpected character '" + c + "'", _pos);
                }
            }

            private void Expect(string literal)
            {
                if (string.CompareOrdinal(_text, _pos, literal, 0, literal.Length) != 0)
                    throw new JsonException("invalid literal", _pos);
                _pos += literal.Length;
            }

            private Dictionary<string, object> ParseObject(int depth)
            {
                var obj = new Dictionary<string, object>(StringComparer.Ordinal);
                _pos++; // '{'
                SkipWhitespace();
                if (!AtEnd && _text[_pos] == '}')
                {
                    _pos++;
                    return obj;
                }
                while (true)
                {
                    SkipWhitespace();
                    if (AtEnd || _text[_pos] != '"') throw new JsonException("expected a string key", _pos);
                    string key = ParseString();
                    SkipWhitespace();
                    if (AtEnd || _text[_pos] != ':') throw new JsonException("expected ':'", _pos);
                    _pos++;
                    SkipWhitespace();
                    // Duplicate keys: the last one wins, as in most parsers.
                    obj[key] = ParseValue(depth + 1);
                    SkipWhitespace();
                    if (AtEnd) throw new JsonException("unterminated object", _pos);
                    char c = _text[_pos++];
                    if (c == '}') return obj;
                    if (c != ',') throw new JsonException("expected ',' or '}'", _pos - 1);
                }
            }

            private List<object> ParseArray(int depth)
            {
                var list = new List<object>();
                _pos++; // '['
                SkipWhitespace();
                if (!AtEnd && _text[_pos] == ']')
                {
                    _pos++;
                    return list;
                }
                while (true)
                {
                    SkipWhitespace();
                    list.Add(ParseValue(depth + 1));
                    SkipWhitespace();
                    if (AtEnd) throw new JsonException("unterminated array", _pos);
                    char c = _text[_pos++];
                    if (c == ']') return list;
                    if (c != ',') throw new JsonException("expected ',' or ']'", _pos - 1);
                }
            }

            private string ParseString()
            {
                int start = ++_pos; // after the opening quote
                // Fast path: no escapes.
                while (_pos < _text.Length)
                {
                    char c = _text[_pos];
                    if (c == '"')
                    {
                        string s = _text.Substring(start, _pos - start);
                        _pos++;
                        return s;
                    }
                    if (c == '\\') break;
                    if (c < 0x20) throw new JsonException("control character in string", _pos);
                    _pos++;
                }
                var sb = new StringBuilder();
                sb.Append(_text, start, _pos - start);
                while (_pos < _text.Length)
                {
                    char c = _text[_pos++];
                    if (c == '"') return sb.ToString();
                    if (c < 0x20) throw new JsonException("control character in string", _pos - 1);
                    if (c != '\\')
                    {
                        sb.Append(c);
                        continue;
                    }
                    if (AtEnd) break;
                    char e = _text[_pos++];
                    switch (e)
                    {
                        case '"': sb.Append('"'); break;
                        case '\\': sb.Append('\\'); break;
                        case '/': sb.Append('/'); break;
                        case 'b': sb.Append('\b'); break;
                        case 'f': sb.Append('\f'); break;
                        case 'n': sb.Append('\n'); break;
                        case 'r': sb.Append('\r'); break;
                        case 't': sb.Append('\t'); break;
                        case 'u': sb.Append(ParseHex4()); break; // surrogate pairs arrive as two escapes
                        default: throw new JsonException("invalid escape '\\" + e + "'", _pos - 1);
                    }
                }
                throw new JsonException("unterminated string", _pos);
            }

            private char ParseHex4()
            {
                if (_pos + 4 > _text.Length) throw new JsonException("truncated \\u escape", _pos);
                int v = 0;
                for (int i = 0; i < 4; i++)
                {
                    char h = _text[_pos++];
                    int d;
                    if (h >= '0' && h <= '9') d = h - '0';
                    else if (h >= 'a' && h <= 'f') d = h - 'a' + 10;
                    else if (h >= 'A' && h <= 'F') d = h - 'A' + 10;
                    else throw new JsonException("invalid hex digit in \\u escape", _pos - 1);
                    v = (v << 4) | d;
                }
                return (char)v;
            }

            private double ParseNumber()
            {
                int start = _pos;
                if (_text[_pos] == '-') _pos++;
                if (AtEnd) throw new JsonException("invalid number", start);
                if (_text[_pos] == '0')
                {
                    _pos++;
                }
                else if (_text[_pos] >= '1' && _text[_pos] <= '9')
                {
                    while (!AtEnd && _text[_pos] >= '0' && _text[_pos] <= '9') _pos++;
                }
                else
                {
                    throw new JsonException("invalid number", start);
                }
                if (!AtEnd && _text[_pos] == '.')
                {
                    _pos++;
                    if (AtEnd || _text[_pos] < '0' || _text[_pos] > '9') throw new JsonException("digit expected after '.'", _pos);
                    while (!AtEnd && _text[_pos] >= '0' && _text[_pos] <= '9') _pos++;
                }
                if (!AtEnd && (_text[_pos] == 'e' || _text[_pos] == 'E'))
                {
                    _pos++;
                    if (!AtEnd && (_text[_pos] == '+' || _text[_pos] == '-')) _pos++;
                    if (AtEnd || _text[_pos] < '0' || _text[_pos] > '9') throw new JsonException("digit expected in exponent", _pos);
                    while (!AtEnd && _text[_pos] >= '0' && _text[_pos] <= '9') _pos++;
                }
                double d;
                if (!double.TryParse(_text.Substring(start, _pos - start), NumberStyles.Float, CultureInfo.InvariantCulture, out d) ||
                    double.IsInfinity(d))
                {
                    throw new JsonException("number out of range", start);
                }
                return d;
            }
        }
    }

    /// <summary>Pre-serialized JSON that <see cref="Json.Serialize"/> writes verbatim (e.g. a user's schema).</summary>
    public sealed class JsonRaw
    {
        /// <summary>The JSON text.</summary>
        public string Json { get; }

        /// <summary>Wraps JSON text; it is validated so the output stays well-formed.</summary>
        public JsonRaw(string json)
        {
            global::RealtimeVoice.Json.Parse(json); // throws JsonException if invalid
            Json = json;
        }
    }
}
