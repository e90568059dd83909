package io.credbroker.devstack.kubernetes;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;

/**
 * Writes state files atomically; files holding keys or tokens are readable by the owner only. Also
 * for tests that replace a file a process reads, as the kubelet replaces a projected token.
 */
public final class StateFiles {

  private StateFiles() {}

  /** Replaces {@code file} with {@code content} in one step, readable by its owner only. */
  public static void writePrivate(Path file, String content) throws IOException {
    write(file, content, true);
  }

  /** Replaces {@code file} with {@code content} in one step. */
  public static void writePublic(Path file, String content) throws IOException {
    write(file, content, false);
  }

  private static void write(Path file, String content, boolean ownerOnly) throws IOException {
    Path dir = file.toAbsolutePath().getParent();
    Files.createDirectories(dir);
    Path tmp = Files.createTempFile(dir, "." + file.getFileName(), ".tmp");
    try {
      if (ownerOnly) {
        try {
          Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rw-------"));
        } catch (UnsupportedOperationException e) {
          // Not a POSIX file system: the directory's own protection is all there is.
        }
      }
      Files.writeString(tmp, content, StandardCharsets.UTF_8);
      try {
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
      } catch (AtomicMoveNotSupportedException e) {
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING);
      }
    } finally {
      Files.deleteIfExists(tmp);
    }
  }
}
