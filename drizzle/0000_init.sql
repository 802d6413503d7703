CREATE SEQUENCE "public"."message_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1;--> statement-breakpoint
CREATE TABLE "channel_lists" (
	"channel_id" text NOT NULL,
	"channel_type" smallint NOT NULL,
	"list" text NOT NULL,
	"uid" text NOT NULL,
	CONSTRAINT "channel_lists_channel_id_channel_type_list_uid_pk" PRIMARY KEY("channel_id","channel_type","list","uid")
);
--> statement-breakpoint
CREATE TABLE "channels" (
	"channel_id" text NOT NULL,
	"channel_type" smallint NOT NULL,
	"last_msg_seq" bigint DEFAULT 0 NOT NULL,
	"last_message_id" bigint DEFAULT 0 NOT NULL,
	"red_dot_count" bigint DEFAULT 0 NOT NULL,
	"ban" smallint DEFAULT 0 NOT NULL,
	"disband" smallint DEFAULT 0 NOT NULL,
	"conversation_type" bigint DEFAULT 0 NOT NULL,
	"is_archive" boolean DEFAULT false NOT NULL,
	"is_delete" boolean DEFAULT false NOT NULL,
	"created_at" bigint DEFAULT (extract(epoch from now()) * 1000)::bigint NOT NULL,
	CONSTRAINT "channels_channel_id_channel_type_pk" PRIMARY KEY("channel_id","channel_type")
);
--> statement-breakpoint
CREATE TABLE "command_queue" (
	"uid" text NOT NULL,
	"seq" bigint NOT NULL,
	"message_id" bigint NOT NULL,
	CONSTRAINT "command_queue_uid_seq_pk" PRIMARY KEY("uid","seq")
);
--> statement-breakpoint
CREATE TABLE "conversations" (
	"uid" text NOT NULL,
	"channel_id" text NOT NULL,
	"channel_type" smallint NOT NULL,
	"read_seq" bigint DEFAULT 0 NOT NULL,
	"unread_base" integer DEFAULT 0 NOT NULL,
	"deleted_seq" bigint DEFAULT 0 NOT NULL,
	"version" bigint DEFAULT 0 NOT NULL,
	CONSTRAINT "conversations_uid_channel_id_channel_type_pk" PRIMARY KEY("uid","channel_id","channel_type")
);
--> statement-breakpoint
CREATE TABLE "messages" (
	"message_id" bigint PRIMARY KEY NOT NULL,
	"message_seq" bigint NOT NULL,
	"channel_id" text NOT NULL,
	"channel_type" smallint NOT NULL,
	"client_msg_no" text NOT NULL,
	"from_uid" text NOT NULL,
	"red_dot" smallint DEFAULT 1 NOT NULL,
	"sync_once" smallint DEFAULT 0 NOT NULL,
	"setting" smallint DEFAULT 0 NOT NULL,
	"timestamp" integer NOT NULL,
	"send_time_us" bigint NOT NULL,
	"payload" "bytea" NOT NULL,
	"type" integer DEFAULT 0 NOT NULL,
	"status" integer DEFAULT 0 NOT NULL,
	"stream_no" text,
	"expire" integer DEFAULT 0 NOT NULL,
	"red_dot_rank" bigint DEFAULT 0 NOT NULL
);
--> statement-breakpoint
CREATE TABLE "poll_cursors" (
	"session" text NOT NULL,
	"platform" smallint NOT NULL,
	"last_message_id" bigint NOT NULL,
	CONSTRAINT "poll_cursors_session_platform_pk" PRIMARY KEY("session","platform")
);
--> statement-breakpoint
CREATE TABLE "server_secrets" (
	"name" text PRIMARY KEY NOT NULL,
	"value" text NOT NULL
);
--> statement-breakpoint
CREATE TABLE "stream_chunks" (
	"stream_no" text NOT NULL,
	"stream_seq" integer NOT NULL,
	"client_msg_no" text NOT NULL,
	"payload" "bytea" NOT NULL,
	CONSTRAINT "stream_chunks_stream_no_stream_seq_pk" PRIMARY KEY("stream_no","stream_seq")
);
--> statement-breakpoint
CREATE TABLE "streams" (
	"stream_no" text PRIMARY KEY NOT NULL,
	"message_id" bigint NOT NULL,
	"channel_id" text NOT NULL,
	"channel_type" smallint NOT NULL,
	"from_uid" text NOT NULL,
	"last_chunk_seq" integer DEFAULT 0 NOT NULL,
	"closed" smallint DEFAULT 0 NOT NULL
);
--> statement-breakpoint
CREATE TABLE "subscribers" (
	"channel_id" text NOT NULL,
	"channel_type" smallint NOT NULL,
	"uid" text NOT NULL,
	"join_seq" bigint DEFAULT 0 NOT NULL,
	"created_at" bigint DEFAULT (extract(epoch from now()) * 1000)::bigint NOT NULL,
	CONSTRAINT "subscribers_channel_id_channel_type_uid_pk" PRIMARY KEY("channel_id","channel_type","uid")
);
--> statement-breakpoint
CREATE TABLE "user_tokens" (
	"uid" text NOT NULL,
	"device_flag" smallint NOT NULL,
	"token" text NOT NULL,
	"device_level" smallint DEFAULT 1 NOT NULL,
	"updated_at" bigint DEFAULT (extract(epoch from now()) * 1000)::bigint NOT NULL,
	CONSTRAINT "user_tokens_uid_device_flag_pk" PRIMARY KEY("uid","device_flag")
);
--> statement-breakpoint
CREATE TABLE "users" (
	"uid" text PRIMARY KEY NOT NULL,
	"cmd_last_seq" bigint DEFAULT 0 NOT NULL,
	"cmd_acked_seq" bigint DEFAULT 0 NOT NULL,
	"created_at" bigint DEFAULT (extract(epoch from now()) * 1000)::bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "webhook_outbox" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"event" text NOT NULL,
	"body" jsonb NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"next_attempt_at" bigint DEFAULT 0 NOT NULL,
	"created_at" bigint DEFAULT (extract(epoch from now()) * 1000)::bigint NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX "messages_channel_seq_idx" ON "messages" USING btree ("channel_id","channel_type","message_seq") WHERE "messages"."message_seq" > 0;--> statement-breakpoint
CREATE UNIQUE INDEX "messages_idempotence_idx" ON "messages" USING btree ((messages.channel_type::text || ':' || length(messages.channel_id)::text || ':' || messages.channel_id || ':' || length(messages.from_uid)::text || ':' || messages.from_uid || ':' || messages.client_msg_no));--> statement-breakpoint
CREATE INDEX "messages_channel_id_idx" ON "messages" USING btree ("channel_id","channel_type","message_id");--> statement-breakpoint
CREATE UNIQUE INDEX "stream_chunks_idempotence_idx" ON "stream_chunks" USING btree ("stream_no","client_msg_no");--> statement-breakpoint
CREATE INDEX "subscribers_uid_idx" ON "subscribers" USING btree ("uid");--> statement-breakpoint
CREATE INDEX "webhook_outbox_next_idx" ON "webhook_outbox" USING btree ("next_attempt_at");