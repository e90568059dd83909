package io.credbroker.client.agent;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
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

  private static final SecureRandom RANDOM = new SecureRandom();

  /** Told where the temporary file was created, before anything is written into it. */
  @FunctionalInterface
  interface TemporaryFileObserver {
    void created(Path temporary) throws IOException;
  }

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
    write(text, temporary -> {});
  }

  /**
   * As {@link #write(String)}; {@code created} runs once the temporary file exists, before anything
   * is written into it (tests use it to stand for another process in the directory).
   *
   * <p>The directory may be writable by others (an emptyDir volume is 0777, shared by every
   * container of the pod that mounts it), who can rename the temporary file away and put a file or
   * a symbolic link of their own in its place. So the text is written only through the channel that
   * created the file (exclusively: an existing file or link there is an error), and its mode and
   * owner are set without following links: the secret never reaches a file the agent did not
   * create.
   */
  void write(String text, TemporaryFileObserver created) throws IOException {
    Path directory = path.toAbsolutePath().getParent();
    Files.createDirectories(directory);
    Path temporary = directory.resolve("." + path.getFileName() + "." + RANDOM.nextLong() + ".tmp");
    try (FileChannel channel =
        FileChannel.open(
            temporary,
            Set.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE),
            PosixFilePermissions.asFileAttribute(permissions))) {
      try {
        created.created(temporary);
        // The umask may have stripped bits at creation; the mode asked for is the mode wanted.
        Files.getFileAttributeView(
                temporary, PosixFileAttributeView.class, LinkOption.NOFOLLOW_LINKS)
            .setPermissions(permissions);
        ByteBuffer bytes = ByteBuffer.wrap(text.getBytes(StandardCharsets.UTF_8));
        while (bytes.hasRemaining()) {
          channel.write(bytes);
        }
        channel.force(true);
        if (owner != null) {
          String[] ids = owner.split(":");
          Files.setAttribute(
              temporary, "unix:uid", Integer.parseInt(ids[0]), LinkOption.NOFOLLOW_LINKS);
          if (ids.length == 2) {
            Files.setAttribute(
                temporary, "unix:gid", Integer.parseInt(ids[1]), LinkOption.NOFOLLOW_LINKS);
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
    }
    // The rename itself reaches the disk only with the directory.
    try (FileChannel dir = FileChannel.open(directory, StandardOpenOption.READ)) {
      dir.force(true);
    } catch (IOException e) {
      // Some file systems do not sync directories; the file itself is on disk.
    }
  }
}
