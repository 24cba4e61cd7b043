import { AgentGroup, AgentGroupMember } from "@annal/spec"
import { Effect, Schema } from "effect"
import * as Projection from "../projection/Projection.js"
import { decodeData } from "../shared/EventData.js"
import { decodeRowSync } from "../shared/ViewRow.js"
import { groupStatus } from "./decide.js"
import { AGENT_GROUP_CREATED, AGENT_GROUP_MEMBER_COMPLETED, AgentGroupCreated, AgentGroupMemberCompleted } from "./events.js"

/** A row of `agent_groups`: the API's AgentGroup without its members and stream, and its seq. */
export const AgentGroupRow = Schema.Struct({ ...AgentGroup.omit("members", "stream").fields, seq: Schema.Number })

/** A row of `agent_group_members`: the API's member, its group and its place in it. */
export const AgentGroupMemberRow = Schema.Struct({ ...AgentGroupMember.fields, group_id: Schema.String, position: Schema.Number })

const memberStatus = decodeRowSync(AgentGroupMemberRow.pipe(Schema.pick("status")), "agent_group_members")

/** Agent groups and their members; a group's status is derived here from its members'. */
export const agentGroupsProjection = Projection.make({
  name: "agent_groups",
  version: 1,
  tables: [
    {
      name: "agent_groups",
      ddl: `CREATE TABLE agent_groups (
        id TEXT PRIMARY KEY,
        seq INTEGER NOT NULL,
        name TEXT NOT NULL,
        agent_count INTEGER NOT NULL,
        completed_count INTEGER NOT NULL,
        failed_count INTEGER NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('running', 'completed', 'failed')),
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        completed_at TEXT
      );
      CREATE INDEX agent_groups_seq ON agent_groups (seq);`
    },
    {
      name: "agent_group_members",
      ddl: `CREATE TABLE agent_group_members (
        group_id TEXT NOT NULL,
        agent_id TEXT NOT NULL,
        position INTEGER NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('running', 'completed', 'failed')),
        result TEXT,
        completed_at TEXT,
        PRIMARY KEY (group_id, agent_id)
      )`
    }
  ],
  handles: [AGENT_GROUP_CREATED, AGENT_GROUP_MEMBER_COMPLETED],
  apply: (event, db) =>
    Effect.gen(function*() {
      if (event.type === AGENT_GROUP_CREATED) {
        const d = decodeData(AgentGroupCreated, event)
        yield* db.run(
          `INSERT INTO agent_groups (id, seq, name, agent_count, completed_count, failed_count, status, created_at, updated_at, completed_at)
           VALUES (?, ?, ?, ?, 0, 0, 'running', ?, ?, NULL)`,
          [d.group_id, event.seq, d.name, d.agent_ids.length, event.at, event.at]
        )
        for (const [i, agent] of d.agent_ids.entries()) {
          yield* db.run("INSERT INTO agent_group_members (group_id, agent_id, position, status, result, completed_at) VALUES (?, ?, ?, 'running', NULL, NULL)", [
            d.group_id,
            agent,
            i
          ])
        }
        return
      }
      const d = decodeData(AgentGroupMemberCompleted, event)
      yield* db.run("UPDATE agent_group_members SET status = ?, result = ?, completed_at = ? WHERE group_id = ? AND agent_id = ?", [
        d.success ? "completed" : "failed",
        d.result,
        event.at,
        d.group_id,
        d.agent_id
      ])
      const statuses = (yield* db.all("SELECT status FROM agent_group_members WHERE group_id = ?", [d.group_id])).map(memberStatus)
      const status = groupStatus(statuses)
      yield* db.run(
        `UPDATE agent_groups SET completed_count = completed_count + ?, failed_count = failed_count + ?, status = ?,
           completed_at = ?, updated_at = ? WHERE id = ?`,
        [d.success ? 1 : 0, d.success ? 0 : 1, status, status === "running" ? null : event.at, event.at, d.group_id]
      )
  })
})
