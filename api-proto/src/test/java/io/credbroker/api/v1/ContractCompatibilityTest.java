package io.credbroker.api.v1;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.DescriptorProtos.DescriptorProto;
import com.google.protobuf.DescriptorProtos.EnumDescriptorProto;
import com.google.protobuf.DescriptorProtos.EnumValueDescriptorProto;
import com.google.protobuf.DescriptorProtos.FieldDescriptorProto;
import com.google.protobuf.DescriptorProtos.FileDescriptorProto;
import com.google.protobuf.DescriptorProtos.FileDescriptorSet;
import com.google.protobuf.DescriptorProtos.MethodDescriptorProto;
import com.google.protobuf.DescriptorProtos.ServiceDescriptorProto;
import com.google.protobuf.Descriptors.Descriptor;
import com.google.protobuf.Descriptors.FieldDescriptor;
import com.google.protobuf.Descriptors.FileDescriptor;
import com.google.protobuf.TextFormat;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * v1 never breaks: the contract as compiled now must keep everything the checked-in v1 baseline
 * ({@code src/test/resources/credbroker/v1/credential_broker.baseline.txtpb}, a text-format {@code
 * FileDescriptorSet}) holds. The checks are those of buf's FILE breaking category that a single
 * file can violate: nothing removed, renumbered, renamed or retyped, no field moved in or out of a
 * oneof, no RPC's types or streaming changed, no file option changed. Additions are fine.
 *
 * <p>After an additive change, record it in the baseline so that it is protected too: {@code ./mvnw
 * -o -pl api-proto verify -Dtest=ContractCompatibilityTest -Dcontract.baseline.write=true}. The
 * same file serves buf, from api-proto: {@code buf breaking --against
 * 'src/test/resources/credbroker/v1/credential_broker.baseline.txtpb#format=txtpb'}.
 */
class ContractCompatibilityTest {

  private static final Path BASELINE =
      Path.of("src/test/resources/credbroker/v1/credential_broker.baseline.txtpb");

  @Test
  void currentContractKeepsEverythingTheV1BaselineHolds() throws IOException {
    FileDescriptorProto current = withJsonNames(CredentialBrokerProto.getDescriptor());
    if (Boolean.getBoolean("contract.baseline.write")) {
      // The imports first, as in a buf image, so that buf can read the file as well.
      FileDescriptorSet.Builder set = FileDescriptorSet.newBuilder();
      CredentialBrokerProto.getDescriptor()
          .getDependencies()
          .forEach(d -> set.addFile(withJsonNames(d)));
      set.addFile(current);
      Files.writeString(
          BASELINE,
          "# The credbroker.v1 contract as released; see ContractCompatibilityTest.\n"
              + TextFormat.printer().printToString(set.build()),
          StandardCharsets.UTF_8);
    }

    assertThat(breakingChanges(baseline(), current)).isEmpty();
  }

  @Test
  void removingAFieldRenumberingOrRenamingIsReported() throws IOException {
    FileDescriptorProto baseline = baseline();
    FileDescriptorProto.Builder changed = baseline.toBuilder();
    DescriptorProto.Builder credential = message(changed, "Credential");
    credential.removeField(3); // password = 4
    credential.getFieldBuilder(0).setNumber(99); // credential_id = 1
    credential.getFieldBuilder(1).setName("role"); // database_role = 2
    changed.getServiceBuilder(0).getMethodBuilder(0).setServerStreaming(false);
    changed.getEnumTypeBuilderList().stream()
        .filter(e -> e.getName().equals("RotationReason"))
        .findFirst()
        .orElseThrow()
        .removeValue(1);
    changed.getOptionsBuilder().setJavaPackage("io.credbroker.api.v2");

    assertThat(breakingChanges(baseline, changed.build()))
        .containsExactlyInAnyOrder(
            "field credbroker.v1.Credential.credential_id (1) deleted",
            "field credbroker.v1.Credential.password (4) deleted",
            "field credbroker.v1.Credential.database_role (2) renamed to role",
            "enum value credbroker.v1.RotationReason.ROTATION_REASON_MAX_TTL (1) deleted",
            "rpc credbroker.v1.CredentialBroker.WatchCredential server streaming changed",
            "file option java_package changed from io.credbroker.api.v1 to io.credbroker.api.v2");
  }

  @Test
  void retypingAFieldOrAnRpcAndDeletingAMessageAreReported() throws IOException {
    FileDescriptorProto baseline = baseline();
    FileDescriptorProto.Builder changed = baseline.toBuilder();
    DescriptorProto.Builder hints = message(changed, "ConnectionHints");
    hints.getFieldBuilder(1).setType(FieldDescriptorProto.Type.TYPE_INT64); // port, uint32
    changed
        .getServiceBuilder(0)
        .getMethodBuilder(1)
        .setOutputType(".credbroker.v1.ReleaseCredentialResponse");
    int heartbeat =
        changed.getMessageTypeList().stream()
            .map(DescriptorProto::getName)
            .toList()
            .indexOf("Heartbeat");
    changed.removeMessageType(heartbeat);

    assertThat(breakingChanges(baseline, changed.build()))
        .contains(
            "field credbroker.v1.ConnectionHints.port (2) changed type from TYPE_UINT32 to TYPE_INT64",
            "rpc credbroker.v1.CredentialBroker.AcknowledgeRotation changed response type from "
                + ".credbroker.v1.AcknowledgeRotationResponse to .credbroker.v1.ReleaseCredentialResponse",
            "message credbroker.v1.Heartbeat deleted");
  }

  @Test
  void addingFieldsMessagesAndEnumValuesIsCompatible() throws IOException {
    FileDescriptorProto baseline = baseline();
    FileDescriptorProto.Builder changed = baseline.toBuilder();
    message(changed, "Credential")
        .addField(
            FieldDescriptorProto.newBuilder()
                .setName("application_name")
                .setNumber(42)
                .setType(FieldDescriptorProto.Type.TYPE_STRING)
                .setLabel(FieldDescriptorProto.Label.LABEL_OPTIONAL)
                .setJsonName("applicationName"));
    changed.addMessageType(DescriptorProto.newBuilder().setName("Something"));

    assertThat(breakingChanges(baseline, changed.build())).isEmpty();
  }

  /**
   * The file's descriptor with every field's JSON name filled in: protoc leaves them out of the
   * descriptor embedded in generated code, while buf (and protoc's descriptor sets) carry them.
   */
  private static FileDescriptorProto withJsonNames(FileDescriptor file) {
    FileDescriptorProto.Builder proto = file.toProto().toBuilder();
    for (int i = 0; i < file.getMessageTypes().size(); i++) {
      fillJsonNames(file.getMessageTypes().get(i), proto.getMessageTypeBuilder(i));
    }
    return proto.build();
  }

  private static void fillJsonNames(Descriptor message, DescriptorProto.Builder proto) {
    for (int i = 0; i < message.getFields().size(); i++) {
      proto.getFieldBuilder(i).setJsonName(message.getFields().get(i).getJsonName());
    }
    for (int i = 0; i < message.getNestedTypes().size(); i++) {
      fillJsonNames(message.getNestedTypes().get(i), proto.getNestedTypeBuilder(i));
    }
  }

  private static DescriptorProto.Builder message(FileDescriptorProto.Builder file, String name) {
    return file.getMessageTypeBuilderList().stream()
        .filter(m -> m.getName().equals(name))
        .findFirst()
        .orElseThrow();
  }

  private static FileDescriptorProto baseline() throws IOException {
    FileDescriptorSet.Builder set = FileDescriptorSet.newBuilder();
    TextFormat.merge(Files.readString(BASELINE, StandardCharsets.UTF_8), set);
    return set.getFileList().stream()
        .filter(file -> file.getName().equals(CredentialBrokerProto.getDescriptor().getName()))
        .findFirst()
        .orElseThrow();
  }

  /** What a client built against {@code before} would find broken in {@code after}. */
  static List<String> breakingChanges(FileDescriptorProto before, FileDescriptorProto after) {
    List<String> problems = new ArrayList<>();
    String pkg = before.getPackage();
    if (!pkg.equals(after.getPackage())) {
      problems.add("package changed from " + pkg + " to " + after.getPackage());
    }
    if (!before.getSyntax().equals(after.getSyntax())) {
      problems.add("syntax changed from " + before.getSyntax() + " to " + after.getSyntax());
    }
    for (Map.Entry<FieldDescriptor, Object> option :
        before.getOptions().getAllFields().entrySet()) {
      Object now =
          after.getOptions().hasField(option.getKey())
              ? after.getOptions().getField(option.getKey())
              : null;
      if (!option.getValue().equals(now)) {
        problems.add(
            "file option "
                + option.getKey().getName()
                + " changed from "
                + option.getValue()
                + " to "
                + now);
      }
    }
    compareMessages(pkg, before.getMessageTypeList(), after.getMessageTypeList(), problems);
    compareEnums(pkg, before.getEnumTypeList(), after.getEnumTypeList(), problems);
    Map<String, ServiceDescriptorProto> services =
        byName(after.getServiceList(), ServiceDescriptorProto::getName);
    for (ServiceDescriptorProto service : before.getServiceList()) {
      String name = pkg + "." + service.getName();
      ServiceDescriptorProto now = services.get(service.getName());
      if (now == null) {
        problems.add("service " + name + " deleted");
        continue;
      }
      Map<String, MethodDescriptorProto> methods =
          byName(now.getMethodList(), MethodDescriptorProto::getName);
      for (MethodDescriptorProto method : service.getMethodList()) {
        String rpc = name + "." + method.getName();
        MethodDescriptorProto m = methods.get(method.getName());
        if (m == null) {
          problems.add("rpc " + rpc + " deleted");
          continue;
        }
        if (!method.getInputType().equals(m.getInputType())) {
          problems.add(
              "rpc "
                  + rpc
                  + " changed request type from "
                  + method.getInputType()
                  + " to "
                  + m.getInputType());
        }
        if (!method.getOutputType().equals(m.getOutputType())) {
          problems.add(
              "rpc "
                  + rpc
                  + " changed response type from "
                  + method.getOutputType()
                  + " to "
                  + m.getOutputType());
        }
        if (method.getClientStreaming() != m.getClientStreaming()) {
          problems.add("rpc " + rpc + " client streaming changed");
        }
        if (method.getServerStreaming() != m.getServerStreaming()) {
          problems.add("rpc " + rpc + " server streaming changed");
        }
      }
    }
    return problems;
  }

  private static void compareMessages(
      String scope,
      List<DescriptorProto> before,
      List<DescriptorProto> after,
      List<String> problems) {
    Map<String, DescriptorProto> current = byName(after, DescriptorProto::getName);
    for (DescriptorProto message : before) {
      String name = scope + "." + message.getName();
      DescriptorProto now = current.get(message.getName());
      if (now == null) {
        problems.add("message " + name + " deleted");
        continue;
      }
      Map<Integer, FieldDescriptorProto> fields =
          now.getFieldList().stream()
              .collect(Collectors.toMap(FieldDescriptorProto::getNumber, Function.identity()));
      for (FieldDescriptorProto field : message.getFieldList()) {
        String label = "field " + name + "." + field.getName() + " (" + field.getNumber() + ")";
        FieldDescriptorProto f = fields.get(field.getNumber());
        if (f == null) {
          problems.add(label + " deleted");
          continue;
        }
        if (!field.getName().equals(f.getName())) {
          problems.add(label + " renamed to " + f.getName());
        }
        if (field.getType() != f.getType() || !field.getTypeName().equals(f.getTypeName())) {
          problems.add(label + " changed type from " + type(field) + " to " + type(f));
        }
        if (field.getLabel() != f.getLabel()
            || field.getProto3Optional() != f.getProto3Optional()) {
          problems.add(label + " changed cardinality");
        }
        if (!field.getJsonName().equals(f.getJsonName())) {
          problems.add(
              label + " changed JSON name from " + field.getJsonName() + " to " + f.getJsonName());
        }
        Optional<String> oneofBefore = oneof(message, field);
        Optional<String> oneofNow = oneof(now, f);
        if (!oneofBefore.equals(oneofNow)) {
          problems.add(
              label
                  + " moved from oneof "
                  + oneofBefore.orElse("(none)")
                  + " to "
                  + oneofNow.orElse("(none)"));
        }
      }
      for (var range : message.getReservedRangeList()) {
        if (!now.getReservedRangeList().contains(range)) {
          problems.add(
              "message "
                  + name
                  + " reserved range "
                  + range.getStart()
                  + "-"
                  + range.getEnd()
                  + " deleted");
        }
      }
      for (String reserved : message.getReservedNameList()) {
        if (!now.getReservedNameList().contains(reserved)) {
          problems.add("message " + name + " reserved name " + reserved + " deleted");
        }
      }
      compareMessages(name, message.getNestedTypeList(), now.getNestedTypeList(), problems);
      compareEnums(name, message.getEnumTypeList(), now.getEnumTypeList(), problems);
    }
  }

  private static void compareEnums(
      String scope,
      List<EnumDescriptorProto> before,
      List<EnumDescriptorProto> after,
      List<String> problems) {
    Map<String, EnumDescriptorProto> current = byName(after, EnumDescriptorProto::getName);
    for (EnumDescriptorProto e : before) {
      String name = scope + "." + e.getName();
      EnumDescriptorProto now = current.get(e.getName());
      if (now == null) {
        problems.add("enum " + name + " deleted");
        continue;
      }
      Map<Integer, EnumValueDescriptorProto> values =
          now.getValueList().stream()
              .collect(
                  Collectors.toMap(
                      EnumValueDescriptorProto::getNumber, Function.identity(), (a, b) -> a));
      for (EnumValueDescriptorProto value : e.getValueList()) {
        String label =
            "enum value " + name + "." + value.getName() + " (" + value.getNumber() + ")";
        EnumValueDescriptorProto v = values.get(value.getNumber());
        if (v == null) {
          problems.add(label + " deleted");
        } else if (!v.getName().equals(value.getName())) {
          problems.add(label + " renamed to " + v.getName());
        }
      }
    }
  }

  private static Optional<String> oneof(DescriptorProto message, FieldDescriptorProto field) {
    return field.hasOneofIndex() && !field.getProto3Optional()
        ? Optional.of(message.getOneofDecl(field.getOneofIndex()).getName())
        : Optional.empty();
  }

  private static String type(FieldDescriptorProto field) {
    return field.getTypeName().isEmpty() ? field.getType().name() : field.getTypeName();
  }

  private static <T> Map<String, T> byName(List<T> items, Function<T, String> name) {
    return items.stream().collect(Collectors.toMap(name, Function.identity()));
  }
}
