package io.credbroker.client.agent;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Objects;
import java.util.Set;
import org.jspecify.annotations.Nullable;

/**
 * One file the agent keeps up to date, and how it is written: to a temporary file in the same
 * directory, created with the final mode (so the secret is never readable by others, not even for a
 * moment), flushed to disk with {@code fsync}, given its owner, then renamed over the old file, and
 * the directory synced. A reader sees either the old file or the new one, never half of one.
 *
 * <p>The rename is why the application must mount the directory, not the file: a Kubernetes {@code
 * subPath} mount keeps showing the old inode.
 *
 * @param path where the file goes
 * @param template what goes into it
 * @param permissions its mode, {@code rw-------} (0600) unless configured otherwise
 * @param owner {@code uid} or {@code uid:gid} to give it (needs root or CAP_CHOWN), or {@code null}
 *     to keep the agent's
 */
record OutputFile(
    Path path,
    CredentialTemplate template,
    Set<PosixFilePermission> permissions,
    @Nullable String owner) {

  static final Set<PosixFilePermission> OWNER_ONLY = PosixFilePermissions.fromString("rw-------");

  OutputFile {
    Objects.requireNonNull(path, "path");
    Objects.requireNonNull(template, "template");
    permissions = Set.copyOf(permissions);
    if (owner != null && !owner.matches("[0-9]{1,9}(:[0-9]{1,9})?")) {
      // Nine digits at most: a larger id would only fail at the first write, past start-up.
      throw new IllegalArgumentException("owner must be a numeric uid or uid:gid, was " + owner);
    }
  }

  /**
   * Writes {@code text} atomically; on failure the old file is untouched and no temporary file is
   * left.
   */
  void write(String text) throws IOException {
    Path directory = path.toAbsolutePath().getParent();
    Files.createDirectories(directory);
    Path temporary =
        Files.createTempFile(
            directory,
            "." + path.getFileName() + ".",
            ".tmp",
            PosixFilePermissions.asFileAttribute(permissions));
    try {
      // createTempFile applies the umask; the mode asked for is the mode wanted.
      Files.setPosixFilePermissions(temporary, permissions);
      try (FileChannel channel = FileChannel.open(temporary, StandardOpenOption.WRITE)) {
        ByteBuffer bytes = ByteBuffer.wrap(text.getBytes(StandardCharsets.UTF_8));
        while (bytes.hasRemaining()) {
          channel.write(bytes);
        }
        channel.force(true);
      }
      if (owner != null) {
        String[] ids = owner.split(":");
        Files.setAttribute(temporary, "unix:uid", Integer.parseInt(ids[0]));
        if (ids.length == 2) {
          Files.setAttribute(temporary, "unix:gid", Integer.parseInt(ids[1]));
        }
      }
      try {
        Files.move(
            temporary, path, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      } catch (AtomicMoveNotSupportedException e) {
        throw new IOException("cannot rename atomically within " + directory, e);
      }
    } finally {
      Files.deleteIfExists(temporary);
    }
    // The rename itself reaches the disk only with the directory.
    try (FileChannel dir = FileChannel.open(directory, StandardOpenOption.READ)) {
      dir.force(true);
    } catch (IOException e) {
      // Some file systems do not sync directories; the file itself is on disk.
    }
  }
}
