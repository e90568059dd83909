package io.credbroker.broker;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static com.tngtech.archunit.library.Architectures.layeredArchitecture;
import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;

import com.tngtech.archunit.core.importer.ImportOption;
import com.tngtech.archunit.junit.AnalyzeClasses;
import com.tngtech.archunit.junit.ArchTest;
import com.tngtech.archunit.lang.ArchRule;

/**
 * The broker's shape, checked on its compiled classes (tests excluded): the layers of {@code
 * package-info.java}, transports that only translate, a domain free of wire types, and no stand-in
 * in production code.
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
   * and cluster; nothing below calls up.
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
          .mayOnlyBeAccessedByLayers("Transport", "Pods")
          .whereLayer("Lease")
          .mayOnlyBeAccessedByLayers("Transport", "Pods", "Revocation")
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

  @ArchTest
  static final ArchRule productionCodeNeverUsesTheStandIns =
      noClasses()
          .should()
          .dependOnClassesThat()
          .resideInAnyPackage("io.credbroker.devstack..")
          .because("dev-stack is test infrastructure, never a production backend");
}
