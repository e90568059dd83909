package io.credbroker.broker;

import io.credbroker.broker.cli.AdminCli;
import io.credbroker.broker.healthcheck.HealthCheckCommand;
import io.credbroker.broker.setup.SetupCommand;
import java.util.Arrays;
import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.boot.context.properties.ConfigurationPropertiesScan;

/** The broker's entry point. */
@SpringBootApplication
@ConfigurationPropertiesScan
public class CredentialBrokerApplication {

  /**
   * Starts the broker, or runs one of the image's commands when it is the first argument: {@code
   * setup} (prepare a database and Vault), {@code health-check} (ask a broker's gRPC health service
   * over TLS) or {@code admin} (the SRE's command line for the admin API), none of which starts a
   * Spring context.
   */
  public static void main(String[] args) {
    String command = args.length > 0 ? args[0] : "";
    String[] rest = args.length > 0 ? Arrays.copyOfRange(args, 1, args.length) : args;
    switch (command) {
      case "setup" -> System.exit(SetupCommand.run(rest));
      case "health-check" -> System.exit(HealthCheckCommand.run(rest));
      case "admin" -> System.exit(AdminCli.run(rest));
      default -> SpringApplication.run(CredentialBrokerApplication.class, args);
    }
  }
}
