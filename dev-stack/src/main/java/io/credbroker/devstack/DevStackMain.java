package io.credbroker.devstack;

public final class DevStackMain {
  public static void main(String[] args) {}
}
