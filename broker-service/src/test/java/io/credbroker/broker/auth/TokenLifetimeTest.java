package io.credbroker.broker.auth;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.nimbusds.jwt.JWTClaimsSet;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Date;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** When a stream ends for the token it was opened with. */
class TokenLifetimeTest {

  private static final Instant IAT = Instant.parse("2026-12-05T10:00:00Z");
  private static final Instant EXP = IAT.plus(Duration.ofHours(1));

  /** 85 % of the hour: past the kubelet's replacement of the token at 80 %. */
  private static final Instant FROM = IAT.plus(Duration.ofMinutes(51));

  private final TokenLifetime hour = new TokenLifetime(IAT, EXP);

  @Test
  void claimsGiveTheLifetimeAndATokenWithoutExpiryHasNone() {
    JWTClaimsSet claims =
        new JWTClaimsSet.Builder().issueTime(Date.from(IAT)).expirationTime(Date.from(EXP)).build();
    assertThat(TokenLifetime.of(claims)).isEqualTo(hour);
    assertThat(TokenLifetime.of(new JWTClaimsSet.Builder().issueTime(Date.from(IAT)).build()))
        .isNull();
  }

  @Test
  void streamsEndInTheTokensLastFifteenPercentOfLifeSpreadOverIt() {
    Instant opened = IAT.plusSeconds(5);

    assertThat(hour.streamEnd(opened, 0)).isEqualTo(FROM);
    assertThat(hour.streamEnd(opened, 0.5)).isEqualTo(FROM.plus(Duration.ofSeconds(270)));
    // 2,000 pods whose tokens were issued together: their streams end over those 9 minutes, every
    // minute of them taking some, never after the expiry.
    Random random = new Random(42);
    List<Instant> ends = new ArrayList<>();
    for (int i = 0; i < 2_000; i++) {
      ends.add(hour.streamEnd(opened, random.nextDouble()));
    }
    assertThat(ends).allSatisfy(end -> assertThat(end).isBetween(FROM, EXP).isBefore(EXP));
    for (int minute = 0; minute < 9; minute++) {
      Instant start = FROM.plus(Duration.ofMinutes(minute));
      Instant end = start.plus(Duration.ofMinutes(1));
      assertThat(ends)
          .as("minute %d of the window", minute)
          .filteredOn(e -> !e.isBefore(start) && e.isBefore(end))
          .hasSizeBetween(150, 300);
    }
  }

  @Test
  void aStreamOpenedInThatPartOfTheTokensLifeLastsUntilItsExpiry() {
    // A resume with the token the kubelet has not replaced yet: it must not end again at once.
    assertThat(hour.streamEnd(FROM, 0)).isEqualTo(EXP);
    assertThat(hour.streamEnd(EXP.minusSeconds(1), 0.3)).isEqualTo(EXP);
  }

  @Test
  void aTokenWithoutIssueTimeEndsItsStreamsAtItsExpiry() {
    assertThat(new TokenLifetime(null, EXP).streamEnd(IAT, 0.2)).isEqualTo(EXP);
    assertThat(new TokenLifetime(EXP, EXP).streamEnd(IAT, 0.2)).isEqualTo(EXP);
  }

  @Test
  void spreadOutsideZeroToOneIsRefused() {
    assertThatThrownBy(() -> hour.streamEnd(IAT, 1)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> hour.streamEnd(IAT, -0.1))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void aStreamLastsNoLongerThanItsLongestAuthorisationWhateverItsTokensLifetime() {
    Instant opened = IAT.plusSeconds(5);
    Duration longest = Duration.ofMinutes(20);
    TokenLifetime day = new TokenLifetime(IAT, IAT.plus(Duration.ofDays(1)));

    // A day's token: within the last 15 % of the 20 minutes, spread the same way.
    assertThat(TokenLifetime.streamEnd(day, opened, 0, longest))
        .isEqualTo(opened.plus(Duration.ofMinutes(17)));
    assertThat(TokenLifetime.streamEnd(day, opened, 0.5, longest))
        .isEqualTo(opened.plus(Duration.ofSeconds(17 * 60 + 90)));
    // A token without an expiry: the same.
    assertThat(TokenLifetime.streamEnd(null, opened, 0, longest))
        .isEqualTo(opened.plus(Duration.ofMinutes(17)));
    // The kubelet's hour-long token under an authorisation of two hours: the token's end.
    assertThat(TokenLifetime.streamEnd(hour, opened, 0.5, Duration.ofHours(2)))
        .isEqualTo(hour.streamEnd(opened, 0.5));
  }
}
