package io.credbroker.client.agent;

/**
 * The ready-made files, each a {@link CredentialTemplate} with the escaping its readers expect. A
 * user template ({@code template:PATH}) covers the rest, such as a Rails {@code database.yml} or a
 * pgbouncer {@code userlist.txt}.
 */
enum FileFormat {

  /**
   * One {@code .pgpass} line for the broker's host, port and database ({@code *} where the broker
   * sent none).
   */
  PGPASS(
      "{{host|pgpass}}:{{port|pgpass}}:{{database|pgpass}}:{{username|pgpass}}:{{password|pgpass}}\n"),

  /**
   * libpq's environment variables and a {@code DATABASE_URL}, single-quoted for {@code sh}: psql,
   * psycopg, pgx and node-postgres all read {@code PG*}; Rails and many frameworks read {@code
   * DATABASE_URL}.
   */
  ENV(
      """
      PGHOST={{host|env}}
      PGPORT={{port|env}}
      PGDATABASE={{database|env}}
      PGUSER={{username|env}}
      PGPASSWORD={{password|env}}
      PGSSLMODE={{sslmode|env}}
      DATABASE_URL='postgresql://{{username|url}}:{{password|url}}@{{host|url}}:{{port|url}}/{{database|url}}?sslmode={{sslmode|url}}'
      """),

  /** A JSON object with the credential and its connection hints. */
  JSON(
      """
      {
        "credential_id": "{{credential_id|json}}",
        "database_role": "{{database_role|json}}",
        "username": "{{username|json}}",
        "password": "{{password|json}}",
        "host": "{{host|json}}",
        "port": {{port|number}},
        "database": "{{database|json}}",
        "sslmode": "{{sslmode|json}}",
        "jdbc_url": "{{jdbc_url|json}}",
        "issue_time": "{{issue_time|json}}",
        "max_expire_time": "{{max_expire_time|json}}"
      }
      """),

  /**
   * A libpq keyword/value connection string on one line, as {@code psql "$(cat conninfo)"} or
   * libpq's PQconnectdb take.
   */
  CONNINFO(
      "host={{host|conninfo}} port={{port|conninfo}} dbname={{database|conninfo}} user={{username|conninfo}} "
          + "password={{password|conninfo}} sslmode={{sslmode|conninfo}}\n");

  private final String text;

  FileFormat(String text) {
    this.text = text;
  }

  /** The template of this format. */
  CredentialTemplate template() {
    return CredentialTemplate.parse(text);
  }

  /**
   * The format named {@code name} ({@code pgpass}, {@code env}, {@code json}, {@code conninfo}).
   */
  static FileFormat named(String name) {
    for (FileFormat format : values()) {
      if (format.name().equalsIgnoreCase(name)) {
        return format;
      }
    }
    throw new IllegalArgumentException(
        "unknown file format '" + name + "'; known: pgpass, env, json, conninfo, template:PATH");
  }
}
