/** What a load run reports: latency summaries, the JSON report file and the printed summary. */
@NullMarked
package io.credbroker.loadtest.report;

import org.jspecify.annotations.NullMarked;
