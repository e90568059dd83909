package io.credbroker.broker;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static com.tngtech.archunit.library.Architectures.layeredArchitecture;
import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;
import static org.assertj.core.api.Assertions.assertThat;

import com.tngtech.archunit.core.domain.JavaClass;
import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ImportOption;
import com.tngtech.archunit.junit.AnalyzeClasses;
import com.tngtech.archunit.junit.ArchTest;
import com.tngtech.archunit.lang.ArchRule;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Pattern;

/**
 * The broker's shape, checked on its compiled classes (tests excluded): the layers of {@code
 * package-info.java}, transports that only translate, a domain free of wire types, no stand-in in
 * production code, and each state-database table's SQL in the package that owns the table.
 */
@AnalyzeClasses(
    packages = "io.credbroker.broker",
    importOptions = ImportOption.DoNotIncludeTests.class)
class ArchitectureTest {

  /**
   * The packages that hold the broker's decisions and state, as opposed to its transports and
   * commands.
   */
  private static final String[] DOMAIN = {
    "io.credbroker.broker.auth..",
    "io.credbroker.broker.cluster..",
    "io.credbroker.broker.lease..",
    "io.credbroker.broker.pods..",
    "io.credbroker.broker.retention..",
    "io.credbroker.broker.revocation..",
    "io.credbroker.broker.vault..",
  };

  @ArchTest
  static final ArchRule packagesFormNoCycles =
      slices().matching("io.credbroker.broker.(*)..").should().beFreeOfCycles();

  /**
   * admin and grpc translate the wire to calls on revocation and lease, which rest on auth, vault
   * and cluster; pods and retention ask revocation and lease; nothing below calls up.
   */
  @ArchTest
  static final ArchRule layers =
      layeredArchitecture()
          .consideringOnlyDependenciesInLayers()
          .layer("Transport")
          .definedBy("io.credbroker.broker.admin..", "io.credbroker.broker.grpc..")
          .layer("Pods")
          .definedBy("io.credbroker.broker.pods..")
          .layer("Revocation")
          .definedBy("io.credbroker.broker.revocation..")
          .layer("Lease")
          .definedBy("io.credbroker.broker.lease..")
          .layer("Retention")
          .definedBy("io.credbroker.broker.retention..")
          .layer("Foundation")
          .definedBy(
              "io.credbroker.broker.auth..",
              "io.credbroker.broker.vault..",
              "io.credbroker.broker.cluster..")
          .whereLayer("Transport")
          .mayNotBeAccessedByAnyLayer()
          .whereLayer("Pods")
          .mayNotBeAccessedByAnyLayer()
          .whereLayer("Retention")
          .mayNotBeAccessedByAnyLayer()
          .whereLayer("Revocation")
          .mayOnlyBeAccessedByLayers("Transport", "Pods", "Retention")
          .whereLayer("Lease")
          .mayOnlyBeAccessedByLayers("Transport", "Pods", "Revocation", "Retention")
          .whereLayer("Foundation")
          .mayOnlyBeAccessedByLayers("Transport", "Pods", "Revocation", "Lease", "Retention");

  @ArchTest
  static final ArchRule domainKnowsNoWireTypes =
      noClasses()
          .that()
          .resideInAnyPackage(DOMAIN)
          .should()
          .dependOnClassesThat()
          .resideInAnyPackage(
              "io.grpc..",
              "com.google.protobuf..",
              "com.google.rpc..",
              "io.credbroker.api..",
              "jakarta.servlet..",
              "org.springframework.web.bind..",
              "org.springframework.web.servlet..",
              "org.springframework.http.server..")
          .because("the domain must not change when a transport does; admin and grpc translate");

  @ArchTest
  static final ArchRule transportsOnlyTranslate =
      noClasses()
          .that()
          .resideInAnyPackage("io.credbroker.broker.admin..", "io.credbroker.broker.grpc..")
          .should()
          .dependOnClassesThat()
          .resideInAnyPackage("java.sql..", "javax.sql..", "org.springframework.jdbc..")
          .because("state is read and written by the domain packages that own its tables");

  /**
   * A {@code @Repository} gets Spring's exception-translation proxy: a reflective call (and a
   * bridge-method lookup) around every statement, on the issuance and release path, for a
   * translation that {@code JdbcClient} has already made. The stores are plain beans.
   */
  @ArchTest
  static final ArchRule noStoreBehindTheTranslationProxy =
      noClasses()
          .should()
          .beAnnotatedWith("org.springframework.stereotype.Repository")
          .because(
              "JdbcClient already translates SQLExceptions; the proxy only adds a reflective call"
                  + " per statement");

  @ArchTest
  static final ArchRule productionCodeNeverUsesTheStandIns =
      noClasses()
          .should()
          .dependOnClassesThat()
          .resideInAnyPackage("io.credbroker.devstack..")
          .because("dev-stack is test infrastructure, never a production backend");

  /** Each table of the state database, and the package whose classes alone hold SQL on it. */
  private static final Map<String, String> TABLE_OWNERS =
      Map.of(
          "credential", "io.credbroker.broker.lease",
          "revocation_retry", "io.credbroker.broker.lease",
          "pod_block", "io.credbroker.broker.revocation",
          "audit_event", "io.credbroker.broker.revocation",
          "replica", "io.credbroker.broker.cluster");

  /**
   * A table is read and written by the package that owns it; the others ask that package. Checked
   * on the sources (SQL is in string constants, which the class files do not show to ArchUnit): a
   * statement on a table is its name after an upper-case {@code FROM}, {@code JOIN}, {@code
   * UPDATE}, {@code INTO} or {@code TABLE}.
   */
  @ArchTest
  static void eachTablesSqlLivesInTheTablesPackage(JavaClasses classes) throws IOException {
    Set<String> elsewhere = new TreeSet<>();
    Set<Path> read = new TreeSet<>();
    for (JavaClass type : classes) {
      if (type.isNestedClass() || type.isAnonymousClass()) {
        continue;
      }
      String fileName = type.getSource().flatMap(source -> source.getFileName()).orElseThrow();
      Path file =
          Path.of("src/main/java", type.getPackageName().replace('.', '/')).resolve(fileName);
      if (!read.add(file)) {
        continue;
      }
      String code = Files.readString(file);
      TABLE_OWNERS.forEach(
          (table, owner) -> {
            if (!type.getPackageName().equals(owner)
                && Pattern.compile("\\b(FROM|JOIN|UPDATE|INTO|TABLE)\\s+" + table + "\\b")
                    .matcher(code)
                    .find()) {
              elsewhere.add(type.getName() + " " + table);
            }
          });
    }
    assertThat(read).as("sources read").isNotEmpty();
    assertThat(elsewhere).as("SQL on a table outside the package that owns it").isEmpty();
  }
}
