package io.credbroker.broker.image;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.zip.GZIPInputStream;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.apache.commons.compress.archivers.tar.TarFile;
import org.jspecify.annotations.Nullable;

/**
 * A single-platform image in an OCI image layout tar, as {@code jib:buildTar} writes it with format
 * OCI: {@code oci-layout}, {@code index.json} and {@code blobs/sha256/*}. {@link #read} checks
 * every blob against its digest and every layer against its diff ID, and extracts the layers'
 * regular files, in order, under a root directory, as a container runtime would unpack them.
 * Immutable once read.
 */
final class OciImage {

  /**
   * One entry of a layer. {@code path} is absolute inside the image; {@code mode} has permission
   * bits only.
   */
  record LayerFile(
      String path, int mode, long uid, long gid, Instant modified, @Nullable Path extracted) {

    String text() {
      if (extracted == null) {
        throw new IllegalStateException(path + " is not a regular file");
      }
      try {
        return Files.readString(extracted, StandardCharsets.UTF_8);
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
  }

  /** One layer: its compressed digest and its entries by path. */
  record Layer(String digest, Map<String, LayerFile> files) {}

  private static final ObjectMapper JSON = new ObjectMapper();

  private final JsonNode manifest;
  private final JsonNode config;
  private final List<Layer> layers;

  private OciImage(JsonNode manifest, JsonNode config, List<Layer> layers) {
    this.manifest = manifest;
    this.config = config;
    this.layers = List.copyOf(layers);
  }

  static OciImage read(Path tar, Path root) throws IOException {
    try (TarFile archive = new TarFile(tar)) {
      Map<String, TarArchiveEntry> entries = new LinkedHashMap<>();
      archive.getEntries().forEach(entry -> entries.put(entry.getName(), entry));
      JsonNode layout = JSON.readTree(bytes(archive, entries, "oci-layout"));
      require(layout.path("imageLayoutVersion").asText().equals("1.0.0"), "oci-layout " + layout);
      JsonNode index = JSON.readTree(bytes(archive, entries, "index.json"));
      require(index.path("manifests").size() == 1, "one manifest in index.json: " + index);
      JsonNode manifest = JSON.readTree(blob(archive, entries, index.path("manifests").get(0)));
      JsonNode config = JSON.readTree(blob(archive, entries, manifest.path("config")));
      JsonNode diffIds = config.path("rootfs").path("diff_ids");
      JsonNode descriptors = manifest.path("layers");
      require(descriptors.size() == diffIds.size(), "as many layers as diff_ids");
      List<Layer> layers = new ArrayList<>();
      for (int i = 0; i < descriptors.size(); i++) {
        layers.add(layer(archive, entries, descriptors.get(i), diffIds.get(i).asText(), root));
      }
      return new OciImage(manifest, config, layers);
    }
  }

  JsonNode manifest() {
    return manifest;
  }

  /** The image configuration (architecture, os, created, rootfs, history, config). */
  JsonNode config() {
    return config;
  }

  /** What a runtime starts the container with: User, Entrypoint, Cmd, Env, ExposedPorts, Labels. */
  JsonNode containerConfig() {
    return config.path("config");
  }

  List<Layer> layers() {
    return layers;
  }

  /** Every path in any layer. */
  Set<String> paths() {
    Set<String> paths = new LinkedHashSet<>();
    layers.forEach(layer -> paths.addAll(layer.files().keySet()));
    return paths;
  }

  /** The file at {@code path} as the topmost layer holding it has it, or null. */
  @Nullable LayerFile file(String path) {
    Layer layer = layerOfOrNull(path);
    return layer == null ? null : layer.files().get(path);
  }

  /** The topmost layer holding {@code path}. */
  Layer layerOf(String path) {
    Layer layer = layerOfOrNull(path);
    if (layer == null) {
      throw new IllegalArgumentException("no layer holds " + path);
    }
    return layer;
  }

  private @Nullable Layer layerOfOrNull(String path) {
    for (int i = layers.size() - 1; i >= 0; i--) {
      if (layers.get(i).files().containsKey(path)) {
        return layers.get(i);
      }
    }
    return null;
  }

  private static Layer layer(
      TarFile archive,
      Map<String, TarArchiveEntry> entries,
      JsonNode descriptor,
      String diffId,
      Path root)
      throws IOException {
    String mediaType = descriptor.path("mediaType").asText();
    require(
        mediaType.equals("application/vnd.oci.image.layer.v1.tar+gzip"),
        "gzip layer: " + mediaType);
    TarArchiveEntry entry = blobEntry(entries, descriptor);
    Map<String, LayerFile> files = new LinkedHashMap<>();
    try (DigestInputStream compressed =
            new DigestInputStream(archive.getInputStream(entry), sha256());
        DigestInputStream uncompressed =
            new DigestInputStream(new GZIPInputStream(compressed), sha256())) {
      TarArchiveInputStream layer = new TarArchiveInputStream(uncompressed);
      for (TarArchiveEntry file = layer.getNextEntry(); file != null; file = layer.getNextEntry()) {
        String path = "/" + file.getName().replaceAll("^/+|/+$", "");
        require(
            !Path.of(path).getFileName().toString().startsWith(".wh."), "no whiteouts: " + path);
        require(file.isDirectory() || file.isFile(), "only directories and regular files: " + path);
        Path extracted = null;
        if (file.isFile()) {
          extracted = root.resolve(path.substring(1)).normalize();
          require(extracted.startsWith(root), "inside the image root: " + path);
          Files.createDirectories(extracted.getParent());
          Files.copy(layer, extracted, StandardCopyOption.REPLACE_EXISTING);
        }
        files.put(
            path,
            new LayerFile(
                path,
                file.getMode() & 07777,
                file.getLongUserId(),
                file.getLongGroupId(),
                file.getLastModifiedTime().toInstant(),
                extracted));
      }
      uncompressed.transferTo(OutputStream.nullOutputStream());
      compressed.transferTo(OutputStream.nullOutputStream());
      require(
          digest(uncompressed).equals(diffId),
          "layer " + descriptor.path("digest").asText() + " matches diff_id " + diffId);
      require(
          digest(compressed).equals(descriptor.path("digest").asText()),
          "layer matches its digest " + descriptor);
    }
    return new Layer(descriptor.path("digest").asText(), files);
  }

  private static byte[] blob(
      TarFile archive, Map<String, TarArchiveEntry> entries, JsonNode descriptor)
      throws IOException {
    byte[] bytes;
    try (InputStream in = archive.getInputStream(blobEntry(entries, descriptor))) {
      bytes = in.readAllBytes();
    }
    String digest = "sha256:" + HexFormat.of().formatHex(sha256().digest(bytes));
    require(
        digest.equals(descriptor.path("digest").asText()), "blob matches its digest " + descriptor);
    return bytes;
  }

  private static TarArchiveEntry blobEntry(
      Map<String, TarArchiveEntry> entries, JsonNode descriptor) {
    String digest = descriptor.path("digest").asText();
    require(digest.startsWith("sha256:"), "sha256 digest: " + descriptor);
    TarArchiveEntry entry = entries.get("blobs/sha256/" + digest.substring("sha256:".length()));
    require(entry != null, "blob present: " + digest);
    require(
        entry.getSize() == descriptor.path("size").asLong(),
        "blob size as described: " + descriptor);
    return entry;
  }

  private static byte[] bytes(TarFile archive, Map<String, TarArchiveEntry> entries, String name)
      throws IOException {
    TarArchiveEntry entry = entries.get(name);
    require(entry != null, name + " present");
    try (InputStream in = archive.getInputStream(entry)) {
      return in.readAllBytes();
    }
  }

  private static String digest(DigestInputStream stream) {
    return "sha256:" + HexFormat.of().formatHex(stream.getMessageDigest().digest());
  }

  private static MessageDigest sha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  private static void require(boolean condition, String what) {
    if (!condition) {
      throw new IllegalStateException("not a valid OCI image tar: expected " + what);
    }
  }
}
