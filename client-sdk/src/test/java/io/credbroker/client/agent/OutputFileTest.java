package io.credbroker.client.agent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class OutputFileTest {

  @TempDir Path dir;

  private OutputFile file(Path path, String mode) {
    return new OutputFile(
        path, CredentialTemplate.parse("x"), PosixFilePermissions.fromString(mode), null);
  }

  @Test
  void writesTheTextWithModeOwnerOnlyAndLeavesNoTemporaryFile() throws Exception {
    Path path = dir.resolve("secrets").resolve(".pgpass");

    file(path, "rw-------").write("h:5432:d:u:p\n");

    assertThat(path).hasContent("h:5432:d:u:p");
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(path)))
        .isEqualTo("rw-------");
    try (var listing = Files.list(path.getParent())) {
      assertThat(listing).containsExactly(path);
    }
  }

  @Test
  void replacesTheOldFileByRenameSoAReaderHoldingItKeepsTheOldText() throws Exception {
    Path path = dir.resolve("db.env");
    OutputFile file = file(path, "rw-r-----");
    file.write("old");
    Object oldInode = Files.getAttribute(path, "unix:ino");

    try (var reader = Files.newBufferedReader(path)) {
      file.write("new");
      // The open file is the old inode: a rename, not an overwrite in place.
      assertThat(reader.readLine()).isEqualTo("old");
    }

    assertThat(path).hasContent("new");
    assertThat(Files.getAttribute(path, "unix:ino")).isNotEqualTo(oldInode);
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(path)))
        .isEqualTo("rw-r-----");
  }

  @Test
  void modeIsAppliedEvenWhenTheUmaskWouldStripIt() throws Exception {
    Path path = dir.resolve("shared.json");

    file(path, "rw-rw-r--").write("{}");

    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(path)))
        .isEqualTo("rw-rw-r--");
  }

  @Test
  void ownerMustBeNumeric() {
    assertThatThrownBy(
            () ->
                new OutputFile(
                    dir.resolve("f"),
                    CredentialTemplate.parse("x"),
                    OutputFile.OWNER_ONLY,
                    "postgres"))
        .hasMessageContaining("numeric uid");
  }

  @Test
  void ownerIsSetWhenTheAgentMayChangeIt() throws Exception {
    Path path = dir.resolve("owned");
    int uid = (Integer) Files.getAttribute(dir, "unix:uid");
    int gid = (Integer) Files.getAttribute(dir, "unix:gid");

    new OutputFile(path, CredentialTemplate.parse("x"), OutputFile.OWNER_ONLY, uid + ":" + gid)
        .write("x");

    assertThat(Files.getAttribute(path, "unix:uid")).isEqualTo(uid);
    assertThat(Files.getAttribute(path, "unix:gid")).isEqualTo(gid);
  }

  @Test
  void aTemporaryFileSwappedForALinkNeverReceivesTheSecret() throws Exception {
    Path path = dir.resolve("pgpass");
    Path decoy = Files.writeString(dir.resolve("decoy"), "");
    Path stolen = dir.resolve("stolen");
    OutputFile file = file(path, "rw-------");

    // Another container of the pod, sharing the 0777 directory, swaps the temporary file for a
    // link to a file it can read.
    assertThatThrownBy(
            () ->
                file.write(
                    "h:5432:d:u:s3cret\n",
                    temporary -> {
                      Files.move(temporary, stolen);
                      Files.createSymbolicLink(temporary, decoy);
                    }))
        .isInstanceOf(java.io.IOException.class);

    assertThat(decoy).isEmptyFile();
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(decoy)))
        .isNotEqualTo("rw-------");
    assertThat(stolen).isEmptyFile();
    assertThat(path).doesNotExist();
  }

  @Test
  void aFailedWriteLeavesTheOldFileAndNoTemporaryFile() throws Exception {
    Path path = dir.resolve("pgpass");
    file(path, "rw-------").write("old");

    // Its directory cannot be created: a file stands where it should be.
    OutputFile failing =
        new OutputFile(
            dir.resolve("missing-parent-is-a-file").resolve("x"),
            CredentialTemplate.parse("x"),
            OutputFile.OWNER_ONLY,
            null);
    Files.writeString(dir.resolve("missing-parent-is-a-file"), "a file, not a directory");

    assertThatThrownBy(() -> failing.write("new")).isInstanceOf(java.io.IOException.class);
    assertThat(path).hasContent("old");
  }
}
