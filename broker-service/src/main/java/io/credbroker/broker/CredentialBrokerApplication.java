package io.credbroker.broker;

import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.boot.context.properties.ConfigurationPropertiesScan;

/** The broker's entry point. */
@SpringBootApplication
@ConfigurationPropertiesScan
public class CredentialBrokerApplication {

  public static void main(String[] args) {
    SpringApplication.run(CredentialBrokerApplication.class, args);
  }
}
