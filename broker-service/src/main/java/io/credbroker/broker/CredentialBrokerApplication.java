package io.credbroker.broker;

import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.boot.context.properties.ConfigurationPropertiesScan;

/** The broker's entry point. */
@SpringBootApplication
@ConfigurationPropertiesScan
public class CredentialBrokerApplication {

  public static void main(String[] args) {
    if (args.length > 0 && args[0].equals("setup")) { System.exit(io.credbroker.broker.setup.SetupCommand.run(java.util.Arrays.copyOfRange(args, 1, args.length))); }
    SpringApplication.run(CredentialBrokerApplication.class, args);
  }
}
