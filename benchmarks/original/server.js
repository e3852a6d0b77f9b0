// The original framework's cold GET /contacts, re-created on its own stack for
// the benchmarks' same-run comparison (benchmarks/scenarios/cold.py).
//
// Express 4, ajv 8 and awesome-phonenumber 3.4.0, as @sipgate/integration-bridge
// 0.27 pins them. Per request it does what the original does between the
// CRM's answer and the response: decode the CRM's JSON, validate the list
// against a JSON schema of SPEC 2.2's Contact, sanitize every contact (name,
// every phone number parsed in the caller's region: type, E.164, national or
// international form), log one line and send the list as JSON. It leaves out
// the original's cache and its other log lines.
//
// Usage: PORT=8080 BENCH_LISTS=lists.json node server.js
// (BENCH_LISTS: {"<provider key>": [contacts...]}, written by the scenario).
"use strict";

const fs = require("fs");
const Ajv = require("ajv");
const express = require("express");
const PhoneNumber = require("awesome-phonenumber");

const MIN_PHONE_NUMBER_LENGTH = 5;

const nullableString = { type: ["string", "null"] };
const validateContacts = new Ajv().compile({
  type: "array",
  items: {
    type: "object",
    required: ["id", "phoneNumbers"],
    properties: {
      id: { type: "string" },
      name: nullableString,
      firstName: nullableString,
      lastName: nullableString,
      email: nullableString,
      organization: nullableString,
      contactUrl: nullableString,
      avatarUrl: nullableString,
      readonly: { type: "boolean" },
      phoneNumbers: {
        type: "array",
        items: {
          type: "object",
          required: ["label", "phoneNumber"],
          properties: { label: { type: "string" }, phoneNumber: { type: "string" } },
        },
      },
    },
  },
});

// The CRM's answers as bytes, decoded per request like a fetched body.
const lists = new Map(
  Object.entries(JSON.parse(fs.readFileSync(process.env.BENCH_LISTS, "utf8"))).map(
    ([key, contacts]) => [key, JSON.stringify(contacts)],
  ),
);

function normalize(number) {
  return number.replace(/[^\d\w+]/g, "");
}

function fullName(contact) {
  if (contact.name !== null && contact.name !== undefined) return contact.name;
  const parts = [contact.firstName, contact.lastName].filter((part) => part);
  return parts.length ? parts.join(" ") : null;
}

function sanitizeNumber({ label, phoneNumber }, locale) {
  const type =
    normalize(phoneNumber).length <= MIN_PHONE_NUMBER_LENGTH ? "DIRECT_DIAL" : "STANDARD";
  const region = locale.replace("_", "-").replace(/.+-/, "").toUpperCase();
  const raw = { label, type, e164: phoneNumber, localized: phoneNumber, phoneNumber };
  try {
    const parsed = new PhoneNumber(phoneNumber, region);
    const e164 = parsed.getNumber("e164");
    if (!e164 || (/^[^0-9+]*00/.test(phoneNumber) && !parsed.isValid())) return raw;
    const local = region === parsed.getRegionCode();
    return {
      label,
      type,
      e164: type === "DIRECT_DIAL" ? phoneNumber : e164,
      localized: parsed.getNumber(local ? "national" : "international") || phoneNumber,
      phoneNumber: e164,
    };
  } catch {
    return raw;
  }
}

function sanitizeContact(contact, locale) {
  return {
    ...contact,
    name: fullName(contact),
    phoneNumbers: contact.phoneNumbers.map((number) => sanitizeNumber(number, locale)),
  };
}

const app = express();
app.get("/health", (req, res) => res.sendStatus(200));
app.get("/contacts", (req, res) => {
  const text = lists.get(req.get("x-provider-key"));
  if (text === undefined) return res.sendStatus(404);
  const locale = req.get("x-provider-locale") || "de-DE";
  const fetched = JSON.parse(text);
  if (!validateContacts(fetched)) return res.status(500).send("Invalid contacts received");
  const contacts = fetched.map((contact) => sanitizeContact(contact, locale));
  console.log(`Found ${contacts.length} contacts`);
  res.status(200).send(contacts);
});
app.listen(Number(process.env.PORT), "127.0.0.1");
