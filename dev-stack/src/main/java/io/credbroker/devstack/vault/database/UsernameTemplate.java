package io.credbroker.devstack.vault.database;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.ZonedDateTime;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.UUID;

/**
 * A username template in the subset of Go's {@code text/template} that Vault's username templates
 * use: text, actions with pipes, parenthesised sub-pipelines, string and integer literals, the
 * fields {@code .DisplayName} and {@code .RoleName}, and Vault's template functions ({@code
 * printf}, {@code truncate}, {@code truncate_sha256}, {@code random}, {@code unix_time}, {@code
 * unix_time_millis}, {@code timestamp}, {@code uppercase}, {@code lowercase}, {@code replace},
 * {@code sha256}, {@code base64}, {@code uuid}). Control structures ({@code if}, {@code range},
 * variables) are not supported and are refused at parse time.
 *
 * <p>Immutable and thread-safe once parsed; {@link #generate} may be called concurrently.
 */
final class UsernameTemplate {

  /** The PostgreSQL plugin's default, used when a config has no {@code username_template}. */
  static final String DEFAULT =
      "{{ printf \"v-%s-%s-%s-%s\" (.DisplayName | truncate 8) (.RoleName | truncate 8)"
          + " (random 20) (unix_time) | truncate 63 }}";

  private static final Set<String> FUNCTIONS =
      Set.of(
          "printf",
          "truncate",
          "truncate_sha256",
          "random",
          "unix_time",
          "unix_time_millis",
          "timestamp",
          "uppercase",
          "lowercase",
          "replace",
          "sha256",
          "base64",
          "uuid");

  private static final String BASE62 =
      "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

  private static final SecureRandom RANDOM = new SecureRandom();

  private final List<Node> nodes;
  private final Clock clock;

  private UsernameTemplate(List<Node> nodes, Clock clock) {
    this.nodes = nodes;
    this.clock = clock;
  }

  /** Parses a template; the message of the exception reads like Go's parse error. */
  static UsernameTemplate parse(String raw) throws TemplateException {
    return parse(raw, Clock.systemDefaultZone());
  }

  static UsernameTemplate parse(String raw, Clock clock) throws TemplateException {
    if (raw.isEmpty()) {
      throw new TemplateException("missing template");
    }
    return new UsernameTemplate(new Parser(raw).parseAll(), clock);
  }

  /** Renders the template for one credential. */
  String generate(String displayName, String roleName) throws TemplateException {
    StringBuilder out = new StringBuilder();
    Scope scope = new Scope(displayName, roleName);
    for (Node node : nodes) {
      if (node instanceof Text text) {
        out.append(text.text());
      } else if (node instanceof Action action) {
        Object value = evalPipeline(action.pipeline(), scope, action);
        out.append(render(value));
      }
    }
    return out.toString();
  }

  // ---------------------------------------------------------------- evaluation

  private record Scope(String displayName, String roleName) {}

  private Object evalPipeline(List<Command> pipeline, Scope scope, Action at)
      throws TemplateException {
    Object piped = null;
    boolean hasPiped = false;
    for (Command command : pipeline) {
      piped = evalCommand(command, scope, at, hasPiped ? piped : null, hasPiped);
      hasPiped = true;
    }
    return piped;
  }

  private Object evalCommand(
      Command command, Scope scope, Action at, Object piped, boolean hasPiped)
      throws TemplateException {
    Operand first = command.operands().get(0);
    if (first instanceof Identifier fn) {
      List<Object> args = new ArrayList<>();
      for (Operand operand : command.operands().subList(1, command.operands().size())) {
        args.add(evalArg(operand, scope, at));
      }
      if (hasPiped) {
        args.add(piped);
      }
      return call(fn.name(), args, at);
    }
    if (hasPiped || command.operands().size() > 1) {
      throw execError(at, "can't give argument to non-function " + describe(first));
    }
    return evalArg(first, scope, at);
  }

  private Object evalArg(Operand operand, Scope scope, Action at) throws TemplateException {
    if (operand instanceof StringLiteral s) {
      return s.value();
    }
    if (operand instanceof IntLiteral i) {
      return i.value();
    }
    if (operand instanceof Field f) {
      return switch (f.name()) {
        case "DisplayName" -> scope.displayName();
        case "RoleName" -> scope.roleName();
        default ->
            throw execError(
                at, "can't evaluate field " + f.name() + " in type dbplugin.UsernameMetadata");
      };
    }
    if (operand instanceof Dot) {
      return "{" + scope.displayName() + " " + scope.roleName() + "}";
    }
    if (operand instanceof Identifier fn) {
      return call(fn.name(), List.of(), at);
    }
    if (operand instanceof SubPipeline sub) {
      return evalPipeline(sub.pipeline(), scope, at);
    }
    throw new IllegalStateException("unknown operand " + operand);
  }

  private Object call(String fn, List<Object> args, Action at) throws TemplateException {
    try {
      return switch (fn) {
        case "printf" -> {
          if (args.isEmpty()) {
            throw new CallException("wrong number of args for printf: want at least 1 got 0");
          }
          yield GoFormat.sprintf(string(args.get(0)), args.subList(1, args.size()));
        }
        case "truncate" -> {
          arity(fn, args, 2);
          long max = integer(args.get(0));
          String s = string(args.get(1));
          if (max <= 0) {
            throw new CallException(
                "error calling truncate: max length must be > 0 but was " + max);
          }
          yield truncateBytes(s, (int) Math.min(max, Integer.MAX_VALUE));
        }
        case "truncate_sha256" -> {
          arity(fn, args, 2);
          long max = integer(args.get(0));
          String s = string(args.get(1));
          if (max <= 8) {
            throw new CallException(
                "error calling truncate_sha256: max length must be > 8 but was " + max);
          }
          byte[] bytes = s.getBytes(StandardCharsets.UTF_8);
          if (bytes.length <= max) {
            yield s;
          }
          int cut = (int) max - 8;
          String rest = new String(bytes, cut, bytes.length - cut, StandardCharsets.UTF_8);
          yield truncateBytes(s, cut) + sha256Hex(rest).substring(0, 8);
        }
        case "random" -> {
          arity(fn, args, 1);
          long length = integer(args.get(0));
          if (length < 0) {
            throw new CallException("error calling random: length must be >= 0");
          }
          StringBuilder sb = new StringBuilder();
          for (long i = 0; i < length; i++) {
            sb.append(BASE62.charAt(RANDOM.nextInt(BASE62.length())));
          }
          yield sb.toString();
        }
        case "unix_time" -> {
          arity(fn, args, 0);
          yield Long.toString(clock.instant().getEpochSecond());
        }
        case "unix_time_millis" -> {
          arity(fn, args, 0);
          yield Long.toString(clock.millis());
        }
        case "timestamp" -> {
          arity(fn, args, 1);
          yield GoTimeLayout.format(ZonedDateTime.now(clock), string(args.get(0)));
        }
        case "uppercase" -> {
          arity(fn, args, 1);
          yield string(args.get(0)).toUpperCase(Locale.ROOT);
        }
        case "lowercase" -> {
          arity(fn, args, 1);
          yield string(args.get(0)).toLowerCase(Locale.ROOT);
        }
        case "replace" -> {
          arity(fn, args, 3);
          String find = string(args.get(0));
          String replacement = string(args.get(1));
          yield goReplaceAll(string(args.get(2)), find, replacement);
        }
        case "sha256" -> {
          arity(fn, args, 1);
          yield sha256Hex(string(args.get(0)));
        }
        case "base64" -> {
          arity(fn, args, 1);
          yield Base64.getEncoder()
              .encodeToString(string(args.get(0)).getBytes(StandardCharsets.UTF_8));
        }
        case "uuid" -> {
          arity(fn, args, 0);
          yield UUID.randomUUID().toString();
        }
        default -> throw new CallException("function \"" + fn + "\" not defined");
      };
    } catch (CallException e) {
      throw execError(at, e.getMessage());
    }
  }

  /** Go's strings.ReplaceAll: an empty needle inserts the replacement around every rune. */
  private static String goReplaceAll(String s, String find, String replacement) {
    if (!find.isEmpty()) {
      return s.replace(find, replacement);
    }
    StringBuilder sb = new StringBuilder(replacement);
    s.codePoints().forEach(cp -> sb.appendCodePoint(cp).append(replacement));
    return sb.toString();
  }

  private static void arity(String fn, List<Object> args, int want) throws CallException {
    if (args.size() != want) {
      throw new CallException(
          "wrong number of args for " + fn + ": want " + want + " got " + args.size());
    }
  }

  private static long integer(Object value) throws CallException {
    if (value instanceof Long l) {
      return l;
    }
    throw new CallException("wrong type for value; expected int; got " + goType(value));
  }

  private static String string(Object value) throws CallException {
    if (value instanceof String s) {
      return s;
    }
    throw new CallException("wrong type for value; expected string; got " + goType(value));
  }

  static String goType(Object value) {
    return value instanceof Long ? "int" : "string";
  }

  private static String render(Object value) {
    return String.valueOf(value);
  }

  /** Go slices strings by byte; a cut inside a multi-byte rune is rendered like Go prints it. */
  static String truncateBytes(String s, int max) {
    byte[] bytes = s.getBytes(StandardCharsets.UTF_8);
    if (bytes.length <= max) {
      return s;
    }
    return new String(bytes, 0, max, StandardCharsets.UTF_8);
  }

  private static String sha256Hex(String s) {
    try {
      MessageDigest digest = MessageDigest.getInstance("SHA-256");
      return HexFormat.of().formatHex(digest.digest(s.getBytes(StandardCharsets.UTF_8)));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is required of every JVM", e);
    }
  }

  private static String describe(Operand operand) {
    if (operand instanceof StringLiteral s) {
      return "\"" + s.value() + "\"";
    }
    if (operand instanceof IntLiteral i) {
      return Long.toString(i.value());
    }
    if (operand instanceof Field f) {
      return "." + f.name();
    }
    return operand.toString();
  }

  private TemplateException execError(Action at, String message) {
    return new TemplateException(
        "template: template:"
            + at.line()
            + ":"
            + at.column()
            + ": executing \"template\" at <"
            + at.source()
            + ">: "
            + message);
  }

  /** A failure inside a template function, before the position is known. */
  private static final class CallException extends Exception {
    CallException(String message) {
      super(message, null, false, false);
    }
  }

  // ---------------------------------------------------------------- syntax tree

  private sealed interface Node permits Text, Action {}

  private record Text(String text) implements Node {}

  private record Action(List<Command> pipeline, int line, int column, String source)
      implements Node {}

  private record Command(List<Operand> operands) {}

  private sealed interface Operand
      permits StringLiteral, IntLiteral, Field, Dot, Identifier, SubPipeline {}

  private record StringLiteral(String value) implements Operand {}

  private record IntLiteral(long value) implements Operand {}

  private record Field(String name) implements Operand {}

  private record Dot() implements Operand {}

  private record Identifier(String name) implements Operand {}

  private record SubPipeline(List<Command> pipeline) implements Operand {}

  // ---------------------------------------------------------------- parser

  /** Recursive-descent parser over the raw text; not thread-safe, used once per parse. */
  private static final class Parser {
    private final String src;
    private int pos;

    Parser(String src) {
      this.src = src;
    }

    List<Node> parseAll() throws TemplateException {
      List<Node> nodes = new ArrayList<>();
      StringBuilder text = new StringBuilder();
      while (pos < src.length()) {
        int open = src.indexOf("{{", pos);
        if (open < 0) {
          text.append(src, pos, src.length());
          pos = src.length();
          break;
        }
        text.append(src, pos, open);
        int start = open;
        pos = open + 2;
        boolean trimLeft = false;
        if (src.startsWith("- ", pos)
            || src.startsWith("-\t", pos)
            || src.startsWith("-\n", pos)
            || src.startsWith("-\r", pos)) {
          trimLeft = true;
          pos += 1;
        }
        if (trimLeft) {
          int end = text.length();
          while (end > 0 && Character.isWhitespace(text.charAt(end - 1))) {
            end--;
          }
          text.setLength(end);
        }
        if (text.length() > 0) {
          nodes.add(new Text(text.toString()));
          text.setLength(0);
        }
        skipSpaces();
        if (src.startsWith("/*", pos)) {
          int close = src.indexOf("*/", pos + 2);
          if (close < 0) {
            throw parseError("unclosed comment");
          }
          pos = close + 2;
          skipSpaces();
          boolean trimRight = consumeClose();
          if (trimRight) {
            skipAllWhitespace();
          }
          continue;
        }
        int line = lineOf(start);
        int column = start - src.lastIndexOf('\n', start - 1);
        int bodyStart = pos;
        List<Command> pipeline = parsePipeline(false);
        String source = src.substring(bodyStart, pos).trim();
        boolean trimRight = consumeClose();
        nodes.add(new Action(pipeline, line, column, source));
        if (trimRight) {
          skipAllWhitespace();
        }
      }
      if (text.length() > 0) {
        nodes.add(new Text(text.toString()));
      }
      return List.copyOf(nodes);
    }

    private boolean consumeClose() throws TemplateException {
      skipSpaces();
      if (src.startsWith("-}}", pos)) {
        pos += 3;
        return true;
      }
      if (src.startsWith("}}", pos)) {
        pos += 2;
        return false;
      }
      if (pos >= src.length()) {
        throw parseError("unclosed action");
      }
      throw parseError("unexpected \"" + src.charAt(pos) + "\" in command");
    }

    private List<Command> parsePipeline(boolean inParens) throws TemplateException {
      List<Command> commands = new ArrayList<>();
      while (true) {
        List<Operand> operands = new ArrayList<>();
        while (true) {
          skipSpaces();
          if (pos >= src.length()) {
            throw parseError(inParens ? "unclosed left paren" : "unclosed action");
          }
          char c = src.charAt(pos);
          if (c == '|' || c == ')' || isCloseAhead()) {
            break;
          }
          operands.add(parseOperand());
        }
        if (operands.isEmpty()) {
          throw parseError(commands.isEmpty() ? "missing value for command" : "missing command");
        }
        if (operands.get(0) instanceof Identifier id && isKeyword(id.name())) {
          throw parseError("unexpected <" + id.name() + "> in command (not supported here)");
        }
        commands.add(new Command(List.copyOf(operands)));
        skipSpaces();
        if (pos < src.length() && src.charAt(pos) == '|') {
          pos++;
          continue;
        }
        if (inParens) {
          if (pos < src.length() && src.charAt(pos) == ')') {
            pos++;
            return List.copyOf(commands);
          }
          throw parseError("unclosed left paren");
        }
        if (pos < src.length() && src.charAt(pos) == ')') {
          throw parseError("unexpected right paren");
        }
        return List.copyOf(commands);
      }
    }

    private boolean isCloseAhead() {
      return src.startsWith("}}", pos) || src.startsWith("-}}", pos);
    }

    private static boolean isKeyword(String name) {
      return switch (name) {
        case "if",
            "else",
            "end",
            "range",
            "with",
            "define",
            "template",
            "block",
            "break",
            "continue" ->
            true;
        default -> false;
      };
    }

    private Operand parseOperand() throws TemplateException {
      char c = src.charAt(pos);
      if (c == '(') {
        pos++;
        return new SubPipeline(parsePipeline(true));
      }
      if (c == '"') {
        return new StringLiteral(parseQuoted());
      }
      if (c == '`') {
        int close = src.indexOf('`', pos + 1);
        if (close < 0) {
          throw parseError("unterminated raw quoted string");
        }
        String value = src.substring(pos + 1, close);
        pos = close + 1;
        return new StringLiteral(value);
      }
      if (c == '-' || c == '+' || Character.isDigit(c)) {
        int start = pos;
        pos++;
        while (pos < src.length()
            && (Character.isLetterOrDigit(src.charAt(pos)) || src.charAt(pos) == '_')) {
          pos++;
        }
        String number = src.substring(start, pos).replace("_", "");
        try {
          return new IntLiteral(Long.decode(number));
        } catch (NumberFormatException e) {
          throw parseError("bad number syntax: \"" + number + "\"");
        }
      }
      if (c == '.') {
        pos++;
        int start = pos;
        while (pos < src.length() && isIdentChar(src.charAt(pos))) {
          pos++;
        }
        if (start == pos) {
          return new Dot();
        }
        return new Field(src.substring(start, pos));
      }
      if (c == '$') {
        throw parseError("variables are not supported in username templates");
      }
      if (Character.isLetter(c) || c == '_') {
        int start = pos;
        while (pos < src.length() && isIdentChar(src.charAt(pos))) {
          pos++;
        }
        String name = src.substring(start, pos);
        if (!FUNCTIONS.contains(name) && !isKeyword(name)) {
          throw parseError("function \"" + name + "\" not defined");
        }
        return new Identifier(name);
      }
      throw parseError("unexpected \"" + c + "\" in command");
    }

    private String parseQuoted() throws TemplateException {
      StringBuilder sb = new StringBuilder();
      pos++;
      while (pos < src.length()) {
        char c = src.charAt(pos++);
        if (c == '"') {
          return sb.toString();
        }
        if (c == '\n') {
          break;
        }
        if (c != '\\') {
          sb.append(c);
          continue;
        }
        if (pos >= src.length()) {
          break;
        }
        char e = src.charAt(pos++);
        switch (e) {
          case 'n' -> sb.append('\n');
          case 't' -> sb.append('\t');
          case 'r' -> sb.append('\r');
          case '\\' -> sb.append('\\');
          case '"' -> sb.append('"');
          case '\'' -> sb.append('\'');
          case 'a' -> sb.append('\u0007');
          case 'b' -> sb.append('\b');
          case 'f' -> sb.append('\f');
          case 'v' -> sb.append('\u000b');
          case 'x' -> sb.append((char) hex(2));
          case 'u' -> sb.appendCodePoint(hex(4));
          case 'U' -> sb.appendCodePoint(hex(8));
          default -> throw parseError("invalid syntax in quoted string");
        }
      }
      throw parseError("unterminated quoted string");
    }

    private int hex(int digits) throws TemplateException {
      if (pos + digits > src.length()) {
        throw parseError("invalid syntax in quoted string");
      }
      try {
        int value = Integer.parseInt(src.substring(pos, pos + digits), 16);
        pos += digits;
        return value;
      } catch (NumberFormatException e) {
        throw parseError("invalid syntax in quoted string");
      }
    }

    private static boolean isIdentChar(char c) {
      return Character.isLetterOrDigit(c) || c == '_';
    }

    private void skipSpaces() {
      while (pos < src.length()
          && (src.charAt(pos) == ' '
              || src.charAt(pos) == '\t'
              || src.charAt(pos) == '\r'
              || src.charAt(pos) == '\n')) {
        pos++;
      }
    }

    private void skipAllWhitespace() {
      while (pos < src.length() && Character.isWhitespace(src.charAt(pos))) {
        pos++;
      }
    }

    private int lineOf(int offset) {
      int line = 1;
      for (int i = 0; i < offset && i < src.length(); i++) {
        if (src.charAt(i) == '\n') {
          line++;
        }
      }
      return line;
    }

    private TemplateException parseError(String message) {
      return new TemplateException("template: template:" + lineOf(pos) + ": " + message);
    }
  }

  /** A template that does not parse or fails while rendering; the message reads like Go's. */
  static final class TemplateException extends Exception {
    TemplateException(String message) {
      super(message);
    }
  }
}
