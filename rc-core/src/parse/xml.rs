//! Reading `<rc>`, `<recentchange>` and Atom `<entry>` from bytes with quick-xml: root attributes are
//! applied as they stream past; the few child elements are collected into small nodes.

use std::borrow::Cow;

use quick_xml::events::{BytesStart, Event};
use quick_xml::{Reader, XmlVersion};

use crate::change::RecentChange;
use crate::error::{Bad, Form, ParseError};

use super::draft::Draft;
use super::node::Node;
use super::{atom, attrs, fast, feed_xml, rc_xml};

/// How deep child elements may nest below the root.
pub(crate) const MAX_DEPTH: usize = 32;

/// Parses an XML change. `want` restricts the accepted root; `None` accepts either.
///
/// A change as MediaWiki writes it takes [`fast::parse`]; anything else, and every error,
/// takes [`parse_full`].
pub(crate) fn parse(input: &str, want: Option<Form>) -> Result<RecentChange, ParseError> {
    match fast::parse(input, want) {
        Some(rc) => Ok(rc),
        None => parse_full(input, want),
    }
}

/// Parses an XML change with quick-xml: any XML quick-xml reads, and the exact error
/// (form, offset, attribute, value) for the rest.
pub(crate) fn parse_full(input: &str, want: Option<Form>) -> Result<RecentChange, ParseError> {
    let mut reader = Reader::from_str(input);
    let form_guess = want.unwrap_or(Form::RcXml);
    let syntax = |reader: &Reader<&[u8]>, e: quick_xml::Error| ParseError::Syntax {
        form: form_guess,
        offset: reader.error_position(),
        message: e.to_string(),
    };
    // Prolog: declaration, comments, whitespace.
    let (start, has_children, root_offset) = loop {
        let offset = reader.buffer_position();
        match reader.read_event().map_err(|e| syntax(&reader, e))? {
            Event::Start(e) => break (e, true, offset),
            Event::Empty(e) => break (e, false, offset),
            Event::Decl(_) | Event::Comment(_) | Event::PI(_) => {}
            Event::Text(t) if t.bytes().all(|b| b.is_ascii_whitespace()) => {}
            Event::DocType(_) => {
                return Err(ParseError::Dtd {
                    form: form_guess,
                    offset,
                })
            }
            Event::Eof => return Err(ParseError::Empty),
            _ => {
                return Err(ParseError::Syntax {
                    form: form_guess,
                    offset,
                    message: "content before the root element".into(),
                })
            }
        }
    };
    let form = root_form(&start, want)?;
    if form == Form::Atom {
        let mut entry = node_of(&start, form, root_offset)?;
        if has_children {
            entry.children = read_children(&mut reader, form)?;
        }
        epilog(&mut reader, form)?;
        return atom::from_node(&entry);
    }
    let mut draft = Draft::new();
    if form == Form::RcXml {
        rc_xml::begin(&mut draft);
    }
    let raw = start.attributes_raw();
    let raw_offset = offset_in(input, raw).unwrap_or(root_offset);
    attrs::for_each(raw, |name, value, at| {
        let offset = Some(raw_offset + at as u64);
        apply_attr(form, &mut draft, name, value)
            .map_err(|b| b.into_error(form, "attribute", offset))
    })
    .map_err(|m| ParseError::Syntax {
        form,
        offset: raw_offset + m.at as u64,
        message: m.message,
    })??;
    if has_children {
        for child in read_children(&mut reader, form)? {
            apply_child(form, &mut draft, &child)
                .map_err(|b| b.into_error(form, "element", Some(root_offset)))?;
        }
    }
    epilog(&mut reader, form)?;
    draft.finish(form)
}

/// After the root: only whitespace, comments and processing instructions may follow.
fn epilog(reader: &mut Reader<&[u8]>, form: Form) -> Result<(), ParseError> {
    let syntax = |reader: &Reader<&[u8]>, e: quick_xml::Error| ParseError::Syntax {
        form,
        offset: reader.error_position(),
        message: e.to_string(),
    };
    loop {
        let offset = reader.buffer_position();
        match reader.read_event().map_err(|e| syntax(reader, e))? {
            Event::Eof => break,
            Event::Comment(_) | Event::PI(_) => {}
            Event::Text(t) if t.bytes().all(|b| b.is_ascii_whitespace()) => {}
            _ => {
                return Err(ParseError::Syntax {
                    form,
                    offset,
                    message: "unexpected content after the root element".into(),
                })
            }
        }
    }
    Ok(())
}

fn syntax_at(form: Form, offset: Option<u64>, e: impl std::fmt::Display) -> ParseError {
    ParseError::Syntax {
        form,
        offset: offset.unwrap_or(0),
        message: e.to_string(),
    }
}

/// Byte offset of a slice of the input.
fn offset_in(input: &str, part: &str) -> Option<u64> {
    let start = (part.as_ptr() as usize).checked_sub(input.as_ptr() as usize)?;
    (start <= input.len()).then_some(start as u64)
}

fn root_form(start: &BytesStart<'_>, want: Option<Form>) -> Result<Form, ParseError> {
    let local = start.local_name();
    let name: &str = local.as_ref();
    let found = match name {
        "rc" => Some(Form::RcXml),
        "recentchange" => Some(Form::FeedXml),
        "entry" => Some(Form::Atom),
        _ => None,
    };
    match (found, want) {
        (Some(f), None) => Ok(f),
        (Some(f), Some(w)) if f == w => Ok(f),
        (_, Some(w)) => Err(ParseError::WrongRoot {
            form: w,
            expected: root_name(w),
            found: crate::error::snippet(name),
        }),
        (None, None) => Err(ParseError::UnknownForm {
            found: crate::error::snippet(&format!("<{name}>")),
        }),
    }
}

pub(crate) fn root_name(form: Form) -> &'static str {
    match form {
        Form::RcXml => "rc",
        Form::FeedXml => "recentchange",
        Form::FeedJson => "{",
        Form::Atom => "entry",
    }
}

pub(crate) fn apply_attr(
    form: Form,
    d: &mut Draft,
    name: &str,
    value: Cow<'_, str>,
) -> Result<(), Bad> {
    match form {
        Form::RcXml => attrs::apply::<rc_xml::Key>(d, name, value),
        _ => attrs::apply::<feed_xml::Key>(d, name, value),
    }
}

pub(crate) fn apply_child<N: super::node::XmlNode>(
    form: Form,
    d: &mut Draft,
    node: &N,
) -> Result<(), Bad> {
    match form {
        Form::RcXml => rc_xml::child(d, node),
        _ => feed_xml::child(d, node),
    }
}

/// Reads the children of the root up to its end tag.
fn read_children(reader: &mut Reader<&[u8]>, form: Form) -> Result<Vec<Node<'static>>, ParseError> {
    let mut stack: Vec<Node> = vec![Node::default()];
    loop {
        let offset = reader.buffer_position();
        let event = reader.read_event().map_err(|e| ParseError::Syntax {
            form,
            offset: reader.error_position(),
            message: e.to_string(),
        })?;
        let depth = stack.len();
        let top = stack.last_mut().expect("the root stays on the stack");
        match event {
            // The element path's error (`element::check_depth`), word for word.
            Event::Start(e) | Event::Empty(e) if depth > MAX_DEPTH => {
                return Err(ParseError::Invalid {
                    form,
                    what: "element",
                    name: crate::error::snippet(e.local_name().into_inner()),
                    value: format!("nesting depth {depth}"),
                    expected: format!("at most {MAX_DEPTH} levels below the root"),
                    offset: Some(offset),
                });
            }
            Event::Start(e) => stack.push(node_of(&e, form, offset)?),
            Event::Empty(e) => {
                let node = node_of(&e, form, offset)?;
                top.children.push(node);
            }
            Event::End(_) => {
                let done = stack.pop().expect("the root stays on the stack");
                match stack.last_mut() {
                    Some(parent) => parent.children.push(done),
                    None => return Ok(done.children),
                }
            }
            Event::Text(t) => top.text.to_mut().push_str(&t.xml10_content()),
            Event::CData(t) => top.text.to_mut().push_str(&t.xml10_content()),
            Event::GeneralRef(r) => match r.resolve_char_ref() {
                Ok(Some(c)) => top.text.to_mut().push(c),
                Ok(None) => match quick_xml::escape::resolve_predefined_entity(&r) {
                    Some(s) => top.text.to_mut().push_str(s),
                    None => {
                        return Err(ParseError::Syntax {
                            form,
                            offset,
                            message: format!("undefined entity &{};", crate::error::snippet(&r)),
                        })
                    }
                },
                Err(e) => return Err(syntax_at(form, Some(offset), e)),
            },
            Event::DocType(_) => return Err(ParseError::Dtd { form, offset }),
            Event::Comment(_) | Event::PI(_) | Event::Decl(_) => {}
            Event::Eof => {
                return Err(ParseError::Syntax {
                    form,
                    offset,
                    message: format!("the document ends before </{}>", root_name(form)),
                })
            }
        }
    }
}

fn node_of(e: &BytesStart<'_>, form: Form, offset: u64) -> Result<Node<'static>, ParseError> {
    let mut node = Node {
        name: Cow::Owned(e.local_name().as_ref().to_owned()),
        ..Node::default()
    };
    for attr in e.attributes() {
        let attr = attr.map_err(|err| syntax_at(form, Some(offset), err))?;
        if attr.key.as_namespace_binding().is_some() {
            continue;
        }
        let value = attr
            .normalized_value(XmlVersion::Implicit1_0)
            .map_err(|err| syntax_at(form, Some(offset), err))?;
        let name = attr.key.local_name().as_ref().to_owned();
        node.attrs
            .push((Cow::Owned(name), Cow::Owned(value.into_owned())));
    }
    Ok(node)
}
